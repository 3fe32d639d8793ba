"""The fixed webhook sequence every platform goes through (after django-anymail).

    size/type check -> verify (raw body, every candidate secret) -> parse ->
    route to a connection -> mark own writes -> sink (dedupe + enqueue) -> answer

Platform modules only implement ``verify`` and ``parse`` (and may shape the
answer); they cannot skip verification because ``handle`` owns the order.
This package is framework-free: the connector turns a Flask request into an
``InboundRequest`` and a ``WebhookResponse`` back into a Flask response.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, ClassVar

from .errors import (
    Forbidden,
    MalformedPayload,
    MethodNotAllowed,
    PayloadTooLarge,
    SignatureError,
    UnknownConnection,
    Unroutable,
    UnsupportedMediaType,
    WebhookError,
)
from .events import ChangeEvent

MAX_JSON_DEPTH = 32


class CaseInsensitiveDict(dict[str, str]):
    """Header lookup that ignores case, as HTTP requires."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__({k.lower(): v for k, v in (items or {}).items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass(frozen=True)
class InboundRequest:
    method: str
    url: str  # full URL as the sender addressed it, with the query string
    headers: CaseInsensitiveDict
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload("Body is not valid UTF-8.") from exc


@dataclass(frozen=True)
class WebhookTarget:
    """A connection that may own a delivery: its secrets and non-secret settings."""

    connection_id: int
    account_id: str | None
    secrets: Sequence[str]
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: str
    content_type: str = "application/json"
    # connection id -> settings a verified request taught us (e.g. "this HubSpot app signs with v3");
    # the connector stores them so later requests are held to the stronger rule
    learnt: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


# The sink persists (dedupes and enqueues) the events of one connection and
# returns how many were new; it raises ServiceUnavailable when it cannot.
Sink = Callable[[int, list[ChangeEvent]], int]


class WebhookReceiver(abc.ABC):
    """Base class of webhooks/<platform>.py receivers."""

    platform: ClassVar[str]
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    max_body_bytes: ClassVar[int] = 2 * 1024 * 1024
    # How long the CRM may deliver the same event again: its documented retry span plus a margin.
    # Delivery ids are remembered this long (connector.queue.deliveries).
    redelivery_window: ClassVar[timedelta] = timedelta(hours=26)
    methods: ClassVar[tuple[str, ...]] = ("POST",)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    @abc.abstractmethod
    def verify(self, request: InboundRequest, target: WebhookTarget) -> None:
        """Raise SignatureError (401) or Forbidden (403) unless ``target`` sent this request."""

    @abc.abstractmethod
    def parse(self, request: InboundRequest) -> list[ChangeEvent]:
        """Turn a verified body into ChangeEvents; raise MalformedPayload on bad input."""

    def is_own_write(self, event: ChangeEvent, target: WebhookTarget) -> bool:
        """True when the change was made by this connector (loop prevention)."""
        return False

    def learn(self, request: InboundRequest, target: WebhookTarget) -> dict[str, Any]:
        """Settings to remember for ``target`` after ``request`` verified (none by default)."""
        return {}

    # -- record views: the CEM panel inside the CRM asks connector/web/cards.py for a summary ------------
    def verify_card(self, request: InboundRequest, target: WebhookTarget) -> None:
        """Raise SignatureError (401) or Forbidden (403) unless ``target``'s CRM sent this record-view request.

        By default the record view signs its requests the way the platform signs its webhooks."""
        self.verify(request, target)

    def card_origins(self, target: WebhookTarget) -> tuple[str, ...]:
        """Browser origins that may call the record-view endpoint (CORS); none when the CRM calls server-side."""
        return ()

    def card_credential(self, target: WebhookTarget) -> str | None:
        """What a browser-side record view must present, baked into the CRM package; None when the CRM signs."""
        return None

    @classmethod
    def setup_lines(cls, url: str, secret: str) -> list[str]:
        """What the admin pastes into the CRM so it calls ``url`` with ``secret``, one line per item."""
        return [f"Webhook URL: {url}"]

    # The platform's id normaliser (adapters/ids.py), e.g. staticmethod(salesforce_id18); None: as written.
    account_form: ClassVar[Callable[[str], str] | None] = None

    @classmethod
    def account_key(cls, account_id: object) -> str | None:
        """The comparable form of an account id (portal, org, organisation).

        Both sides of every comparison (the connection's stored id and the id in a delivery) go
        through this, so the forms a CRM uses interchangeably route to the same connection.
        """
        text = str(account_id).strip() if account_id is not None else ""
        if not text:
            return None
        return cls.account_form(text) if cls.account_form else text

    def accepted_response(self, events: list[ChangeEvent], new: int) -> WebhookResponse:
        return WebhookResponse(200, json.dumps({"received": len(events), "new": new}))

    def error_response(self, error: WebhookError) -> WebhookResponse:
        return WebhookResponse(error.status, json.dumps({"error": error.message}))

    # -- the fixed sequence --------------------------------------------------------
    def handle(self, request: InboundRequest, targets: Sequence[WebhookTarget], sink: Sink) -> WebhookResponse:
        try:
            return self._handle(request, targets, sink)
        except WebhookError as error:
            return self.error_response(error)

    def _handle(self, request: InboundRequest, targets: Sequence[WebhookTarget], sink: Sink) -> WebhookResponse:
        if request.method.upper() not in self.methods:
            raise MethodNotAllowed(f"Use {' or '.join(self.methods)} for this endpoint.")
        if len(request.body) > self.max_body_bytes:
            raise PayloadTooLarge(f"Body exceeds {self.max_body_bytes} bytes.")
        if request.content_type not in self.content_types:
            got = request.content_type or "none"
            raise UnsupportedMediaType(f"Content-Type must be one of: {', '.join(self.content_types)} (got '{got}').")
        if not targets:
            raise UnknownConnection(f"No {self.platform} connection is set up for this URL.")
        verified = self._verified_targets(request, targets)
        events = self.parse(request)
        by_connection: dict[int, list[ChangeEvent]] = {}
        unroutable: list[ChangeEvent] = []
        for event in events:
            target = self._route(event, verified)
            if target is None:
                unroutable.append(event)  # an account that did not authenticate this request: never trusted
                continue
            if self.is_own_write(event, target):
                event = replace(event, own_write=True)
            by_connection.setdefault(target.connection_id, []).append(event)
        new = sum(sink(connection_id, batch) for connection_id, batch in by_connection.items())
        if unroutable:
            # A success would make the CRM forget these events. The routable ones are queued already;
            # the redelivery of the whole request is deduplicated.
            accounts = sorted({str(e.account_id) for e in unroutable})
            raise Unroutable(f"{len(unroutable)} event(s) name account(s) {', '.join(accounts)[:200]}, which no "
                             f"{self.platform} connection behind this URL and secret serves; connect that account "
                             "or correct the webhook URL. Not acknowledged, so the CRM will send them again.")
        learnt = {t.connection_id: facts for t in verified if (facts := self.learn(request, t))}
        return replace(self.accepted_response(events, new), learnt=learnt)

    def _verified_targets(self, request: InboundRequest, targets: Sequence[WebhookTarget]) -> list[WebhookTarget]:
        verified: list[WebhookTarget] = []
        last_error: WebhookError = SignatureError("Missing or invalid signature.")
        for target in targets:
            try:
                self.verify(request, target)
            except (SignatureError, Forbidden) as error:
                last_error = error
                continue
            verified.append(target)
        if not verified:
            raise last_error
        return verified

    def _route(self, event: ChangeEvent, verified: Sequence[WebhookTarget]) -> WebhookTarget | None:
        account = self.account_key(event.account_id)
        if len(verified) == 1 and (account is None or self.account_key(verified[0].account_id) in (None, account)):
            return verified[0]
        for target in verified:
            if account is not None and self.account_key(target.account_id) == account:
                return target
        return None


def load_json(request: InboundRequest) -> Any:
    """Parse a JSON body with a nesting limit, turning every failure into a 400."""
    try:
        data = json.loads(request.text)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload("Body is not valid JSON.") from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise MalformedPayload(f"JSON nests deeper than {MAX_JSON_DEPTH} levels.")
    return data


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, walking containers only (scalars cannot nest)."""
    if not isinstance(value, dict | list):
        return 1
    stack = [(value, 1)]
    deepest = 1
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if depth > MAX_JSON_DEPTH:
                return depth
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest
