"""HubSpot app webhooks: event payloads, signatures and the retry behaviour.

Facts (crm-apis.md §1.1-1.2): a POST carries a JSON array of at most 100 events; each has
``eventId, subscriptionId, portalId, appId, occurredAt`` (epoch ms), ``subscriptionType``,
``attemptNumber`` (0 first, +1 per retry), ``objectId`` and per type ``propertyName`` /
``propertyValue``, ``changeSource`` / ``sourceId``, ``changeFlag``, ``objectTypeId`` (generic
``object.*`` events) or the association fields. Retries: up to 10 over about 24 h with jitter,
on connection failure, no answer within 5 s, or any 4xx/5xx. Signatures: ``X-HubSpot-Signature-v3``
= base64 HMAC-SHA256(client secret, method + URI + body + timestamp) with
``X-HubSpot-Request-Timestamp`` in ms; plus the legacy ``X-HubSpot-Signature`` at version v1
= hex SHA-256(client secret + body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..sender import Delivery, WebhookSender

MAX_EVENTS_PER_REQUEST = 100
# 10 retries spread over ~21 h; the sender adds +-50 % jitter per notification
RETRY_DELAYS: tuple[float, ...] = (60, 120, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp_ms.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signature_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


class HubSpotWebhookSender(WebhookSender):
    """Signs each attempt afresh and rewrites ``attemptNumber`` in the batch before it goes out."""

    def __init__(self, secret: Callable[[], str | None], *, time_scale: float, seed: int = 0) -> None:
        self._secret = secret
        super().__init__(self._sign, retry_delays=RETRY_DELAYS, jitter=0.5, time_scale=time_scale, timeout=5.0,
                         seed=seed)

    def _sign(self, url: str, body: bytes) -> dict[str, str]:
        secret = self._secret() or ""
        timestamp = str(int(time.time() * 1000))
        return {"X-HubSpot-Signature-v3": signature_v3(secret, "POST", url, body, timestamp),
                "X-HubSpot-Request-Timestamp": timestamp,
                "X-HubSpot-Signature": signature_v1(secret, body),
                "X-HubSpot-Signature-Version": "v1"}

    def _attempt(self, delivery: Delivery) -> None:
        events = json.loads(delivery.body)
        for event in events:
            event["attemptNumber"] = delivery.attempts  # attempts made so far: 0 on the first try
        delivery.body = json.dumps(events, separators=(",", ":")).encode()
        super()._attempt(delivery)


class EventFactory:
    """Builds events with the portal's ids; one subscription id per subscribed event type."""

    def __init__(self, portal_id: int, app_id: int, subscribed_properties: Sequence[str]) -> None:
        self.portal_id, self.app_id = portal_id, app_id
        self.subscribed_properties = tuple(subscribed_properties)
        self._event_ids = itertools.count(3_816_279_340)
        self._subscription_ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def subscription_id(self, key: str) -> int:
        with self._lock:
            return self._subscription_ids.setdefault(key, 25 + 1000 * len(self._subscription_ids))

    def _base(self, subscription_type: str, subscription_key: str, object_id: str,
              occurred_at_ms: int | None) -> dict[str, Any]:
        with self._lock:
            event_id = next(self._event_ids)
        return {"eventId": event_id, "subscriptionId": self.subscription_id(subscription_key),
                "portalId": self.portal_id, "appId": self.app_id,
                "occurredAt": occurred_at_ms if occurred_at_ms is not None else int(time.time() * 1000),
                "subscriptionType": subscription_type, "attemptNumber": 0, "objectId": int(object_id)}

    @staticmethod
    def _source(event: dict[str, Any], change_source: str, source_id: str | None) -> dict[str, Any]:
        event["changeSource"] = change_source
        if source_id is not None:
            event["sourceId"] = source_id
        return event

    def property_change(self, object_id: str, name: str, value: str | None, change_source: str,
                        source_id: str | None, occurred_at_ms: int | None = None) -> dict[str, Any]:
        event = self._base("contact.propertyChange", f"contact.propertyChange:{name}", object_id, occurred_at_ms)
        event.update(propertyName=name, propertyValue=value if value is not None else "")
        return self._source(event, change_source, source_id)

    def creation(self, legacy_type: str, object_id: str, change_source: str, source_id: str | None,
                 occurred_at_ms: int | None = None) -> dict[str, Any]:
        """``contact.creation`` / ``deal.creation`` / ``ticket.creation``."""
        event = self._base(f"{legacy_type}.creation", f"{legacy_type}.creation", object_id, occurred_at_ms)
        event["changeFlag"] = "CREATED"
        return self._source(event, change_source, source_id)

    def object_creation(self, object_type_id: str, object_id: str, change_source: str, source_id: str | None,
                        occurred_at_ms: int | None = None) -> dict[str, Any]:
        """Generic ``object.creation`` (engagements), carrying ``objectTypeId``."""
        event = self._base("object.creation", f"object.creation:{object_type_id}", object_id, occurred_at_ms)
        event.update(objectTypeId=object_type_id, changeFlag="CREATED")
        return self._source(event, change_source, source_id)

    def deletion(self, object_id: str, privacy: bool = False) -> dict[str, Any]:
        kind = "contact.privacyDeletion" if privacy else "contact.deletion"
        event = self._base(kind, kind, object_id, None)
        event["changeFlag"] = "DELETED"
        return self._source(event, "CRM_UI", None)

    def association_change(self, contact_id: str, other_label: str, other_id: str,
                           from_contact: bool) -> dict[str, Any]:
        """One side of a contact association (HubSpot sends one event per direction)."""
        from_id, to_id = (contact_id, other_id) if from_contact else (other_id, contact_id)
        association = f"CONTACT_TO_{other_label}" if from_contact else f"{other_label}_TO_CONTACT"
        event = self._base("contact.associationChange", "contact.associationChange", from_id, None)
        event.update(associationType=association, fromObjectId=int(from_id), toObjectId=int(to_id),
                     associationRemoved=False, isPrimaryAssociation=False)
        return self._source(event, "CRM_UI", None)

