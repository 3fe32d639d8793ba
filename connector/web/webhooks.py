"""The webhook endpoints: adapt Flask to the framework-free receivers and answer fast.

All API work happens in workers; here we only verify, dedupe and enqueue.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookReceiver, WebhookTarget
from webhooks.errors import ServiceUnavailable, UnknownConnection
from webhooks.events import ChangeEvent

from ..connections import ConnectionNotFound, update_settings, webhook_targets
from ..errors import QueueUnavailable
from ..queue.deliveries import RETRY_AFTER_SECONDS, InboxFull
from ..registry import UnknownPlatform, get_platform
from ..runtime import Runtime

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("cem.web.webhooks")

TARGET_CACHE_SECONDS = 5.0  # secrets change rarely; decrypting them on every delivery costs milliseconds


class TargetCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, int | None], tuple[float, list[WebhookTarget]]] = {}

    def get(self, rt: Runtime, platform: str, connection_id: int | None) -> list[WebhookTarget]:
        key = (platform, connection_id)
        hit = self._entries.get(key)
        if hit and time.monotonic() - hit[0] < TARGET_CACHE_SECONDS:
            return hit[1]
        targets = webhook_targets(rt.store, rt.box, platform, connection_id)
        self._entries[key] = (time.monotonic(), targets)
        return targets

    def clear(self) -> None:
        self._entries.clear()


@bp.route("/webhooks/<platform>", methods=["GET", "POST", "PUT", "HEAD"])
@bp.route("/webhooks/<platform>/<int:connection_id>", methods=["GET", "POST", "PUT", "HEAD"])
def receive(platform: str, connection_id: int | None = None) -> Response:
    rt: Runtime = current_app.extensions["cem"]
    try:
        receiver: WebhookReceiver = receiver_for(platform)
    except UnknownPlatform:
        return _json(404, {"error": f"Unknown platform '{platform}'."})
    try:
        return _receive(rt, receiver, platform, connection_id)
    except SQLAlchemyError:
        # The database is away (secrets, learnt settings): the CRM must retry later, not drop the delivery.
        log.warning("webhook for %s answered 503: the database is unavailable", platform)
        return _response(receiver.error_response(ServiceUnavailable(
            "Temporarily unable to accept events (database unavailable); please retry.")))


def _receive(rt: Runtime, receiver: WebhookReceiver, platform: str, connection_id: int | None) -> Response:
    try:
        targets = current_app.extensions["cem_targets"].get(rt, platform, connection_id)
    except ConnectionNotFound:
        return _response(receiver.error_response(UnknownConnection(
            f"No {platform} connection {connection_id}; check the webhook URL configured in the CRM.")))

    retry_after = RETRY_AFTER_SECONDS

    def sink(target_connection: int, events: list[ChangeEvent]) -> int:
        nonlocal retry_after
        try:
            return rt.queue.deliveries.accept(target_connection, events,
                                              window=receiver.redelivery_window.total_seconds())
        except InboxFull as exc:
            retry_after = exc.retry_after
            raise ServiceUnavailable("Too many events are waiting for this connection; please retry.") from exc
        except QueueUnavailable as exc:
            raise ServiceUnavailable("Temporarily unable to accept events; please retry.") from exc

    inbound = InboundRequest(
        method=request.method,
        url=public_url(rt),
        headers=CaseInsensitiveDict(dict(request.headers)),
        body=_body(receiver.max_body_bytes),
        query=request.args.to_dict(),
    )
    result = receiver.handle(inbound, targets, sink)
    if result.learnt:
        for target_connection, facts in result.learnt.items():
            update_settings(rt.store, target_connection, facts)
        current_app.extensions["cem_targets"].clear()
    return _response(result, retry_after)


def _body(limit: int) -> bytes:
    """At most ``limit + 1`` bytes: enough for the receiver to answer 413 without reading the rest
    (the app-wide MAX_CONTENT_LENGTH is larger than any receiver's limit)."""
    return request.stream.read(limit + 1)


def receiver_for(platform: str) -> WebhookReceiver:
    receivers: dict[str, WebhookReceiver] = current_app.extensions.setdefault("cem_receivers", {})
    if platform not in receivers:
        receivers[platform] = get_platform(platform).receiver_class()()
    return receivers[platform]


def public_url(rt: Runtime) -> str:
    """The URL the CRM called (signatures cover it); behind a proxy, CEM_PUBLIC_URL names the outside."""
    path = request.full_path[:-1] if request.full_path.endswith("?") else request.full_path
    return rt.settings.public_url + path


def _response(result: Any, retry_after: int = RETRY_AFTER_SECONDS) -> Response:
    response = Response(result.body, status=result.status, content_type=result.content_type)
    if result.status == 503:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")
