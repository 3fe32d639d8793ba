"""HubSpot app webhooks: signature v3 (v1/v2 for older apps) and the JSON event array.

Facts this module relies on (checked in HubSpot's request-validation guide and the
hubspot-api-client ``utils/signature.py`` source; see shared/reference/crm-apis.md §1.1-1.2):

* v3: ``base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))`` in
  ``X-HubSpot-Signature-v3``, timestamp (epoch ms) in ``X-HubSpot-Request-Timestamp``,
  rejected when more than 5 minutes off. The URI is the full URL with only the
  documented characters URL-decoded (``decode_signed_uri``).
* v1: ``sha256_hex(client_secret + body)``; v2: ``sha256_hex(client_secret + method + uri + body)``,
  both in ``X-HubSpot-Signature`` with ``X-HubSpot-Signature-Version``. No timestamp: a captured
  request stays valid for ever. HubSpot sends v1 *alongside* v3, so a request that carries only v1 is
  either an older app or a captured delivery with its v3 headers stripped. v3 is always preferred;
  once a connection has seen a valid v3 request (remembered as ``signature_version: v3``, which an
  admin may also set up front) v1 and v2 are refused. Apps that never sent v3 keep working.
* Object type ids (developers.hubspot.com "Using object APIs" table): contacts 0-1,
  deals 0-3, tickets 0-5, communications 0-18, feedback submissions 0-19,
  notes 0-46, meetings 0-47, calls 0-48, emails 0-49.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from adapters.hubspot.consts import APP_ID_SETTING, PROPERTY_PREFIX

from .base import InboundRequest, WebhookReceiver, WebhookTarget, load_json
from .errors import Forbidden, MalformedPayload, PayloadTooLarge, SignatureError
from .events import (
    ASSOCIATION_CHANGED,
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    INTERACTION_CHANGED,
    INTERACTION_DELETED,
    ChangeEvent,
)
from .signatures import check_timestamp, hmac_sha256_b64, matches_any, sha256_hex

V3_SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
LEGACY_SIGNATURE_HEADER = "X-HubSpot-Signature"
LEGACY_VERSION_HEADER = "X-HubSpot-Signature-Version"
TIMESTAMP_TOLERANCE_SECONDS = 300.0
SIGNATURE_SETTING = "signature_version"  # "v3": refuse the legacy signatures (learnt or set by the admin)
# HubSpot sends at most 100 events per request; allow slack but refuse absurd batches.
MAX_EVENTS = 1000

# Only these escapes are decoded before signing (request-validation guide, v3).
_SIGNED_URI_DECODES = {"3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$", "27": "'",
                       "28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";"}
_SIGNED_URI_PATTERN = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)

REQUIRED_KEYS = ("eventId", "subscriptionId", "portalId", "occurredAt", "objectId")

OBJECT_TYPE_IDS: dict[str, str] = {
    "0-1": "contact", "0-3": "deal", "0-5": "ticket", "0-18": "chat", "0-19": "survey",
    "0-46": "note", "0-47": "meeting", "0-48": "call", "0-49": "email",
}
# Object names as they appear in legacy subscription types and associationType values.
OBJECT_NAMES: dict[str, str] = {
    "CONTACT": "contact", "DEAL": "deal", "TICKET": "ticket", "CONVERSATION": "chat",
    "COMMUNICATION": "chat", "FEEDBACK_SUBMISSION": "survey", "NOTE": "note", "MEETING": "meeting",
    "CALL": "call", "EMAIL": "email", "ENGAGEMENT": "interaction",
}
_CONTACT_KINDS = {
    "creation": CONTACT_CREATED, "restore": CONTACT_CREATED, "propertyChange": CONTACT_CHANGED,
    "merge": CONTACT_CHANGED, "deletion": CONTACT_DELETED, "privacyDeletion": CONTACT_DELETED,
    "associationChange": ASSOCIATION_CHANGED,
}
_OBJECT_KINDS = {
    "creation": INTERACTION_CHANGED, "restore": INTERACTION_CHANGED, "propertyChange": INTERACTION_CHANGED,
    "merge": INTERACTION_CHANGED, "newMessage": INTERACTION_CHANGED, "deletion": INTERACTION_DELETED,
    "privacyDeletion": INTERACTION_DELETED, "associationChange": ASSOCIATION_CHANGED,
}
OWN_WRITE_SOURCES = frozenset({"INTEGRATION", "API"})


def decode_signed_uri(uri: str) -> str:
    """URL-decode only the characters HubSpot decodes before signing (v3); leave the rest as sent."""
    return _SIGNED_URI_PATTERN.sub(lambda m: _SIGNED_URI_DECODES[m.group(1).upper()], uri)


def v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + decode_signed_uri(uri).encode() + body + timestamp.encode()
    return hmac_sha256_b64(secret, message)


def signature_headers(secret: str, url: str, body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    """The v3 headers HubSpot sends with a POST of ``body`` to ``url`` (for tests, benchmarks and tools)."""
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    return {V3_SIGNATURE_HEADER: v3_signature(secret, "POST", url, body, stamp), TIMESTAMP_HEADER: stamp}


def v1_signature(secret: str, body: bytes) -> str:
    return sha256_hex(secret.encode() + body)


def v2_signature(secret: str, method: str, uri: str, body: bytes) -> str:
    # v2 signs the URI exactly as sent (no partial decoding), per the v2 validation FAQ
    return sha256_hex(secret.encode() + method.upper().encode() + uri.encode() + body)


class HubSpotReceiver(WebhookReceiver):
    platform: ClassVar[str] = "hubspot"
    redelivery_window = timedelta(hours=26)  # up to 10 retries over ~24 h, plus a margin

    @classmethod
    def setup_lines(cls, url: str, secret: str) -> list[str]:
        return [f"Target URL (your app > Webhooks): {url}",
                "Signatures: HubSpot signs with the app's client secret; the connector verifies with the "
                "client_secret credential you gave (pass --credential client_secret=... if you did not).",
                "Subscriptions: contact creation/deletion/privacyDeletion/associationChange, propertyChange of "
                "lifecyclestage, and the engagement objects (README: Connect a real HubSpot account, step 4)."]

    # -- verification ------------------------------------------------------------------
    def verify(self, request: InboundRequest, target: WebhookTarget) -> None:
        secrets = [s for s in target.secrets if s]
        if not secrets:
            raise SignatureError("No HubSpot app client secret is configured for this connection.")
        v3 = request.headers.get(V3_SIGNATURE_HEADER)
        if v3:
            self._verify_v3(request, v3, secrets)
            return
        legacy = request.headers.get(LEGACY_SIGNATURE_HEADER)
        if not legacy:
            raise SignatureError(f"Missing {V3_SIGNATURE_HEADER} header.")
        if str(target.settings.get(SIGNATURE_SETTING) or "").lower() == "v3":
            raise SignatureError(f"This HubSpot app signs with v3; a request without {V3_SIGNATURE_HEADER} is "
                                 "refused (legacy signatures carry no timestamp and could be a replay).")
        version = (request.headers.get(LEGACY_VERSION_HEADER) or "v1").strip().lower()
        if version == "v1":
            expected = [v1_signature(s, request.body) for s in secrets]
        elif version == "v2":
            expected = [v2_signature(s, request.method, request.url, request.body) for s in secrets]
        else:
            raise SignatureError(f"Unsupported {LEGACY_VERSION_HEADER} '{version[:10]}'.")
        if not matches_any(legacy.strip().lower(), expected):
            raise SignatureError("HubSpot signature does not match.")

    def _verify_v3(self, request: InboundRequest, signature: str, secrets: list[str]) -> None:
        timestamp = (request.headers.get(TIMESTAMP_HEADER) or "").strip()
        if not timestamp.isdigit() or len(timestamp) > 16:
            raise SignatureError(f"Missing or invalid {TIMESTAMP_HEADER} header.")
        check_timestamp(int(timestamp) / 1000.0, self.clock(), TIMESTAMP_TOLERANCE_SECONDS)
        expected = [v3_signature(s, request.method, request.url, request.body, timestamp) for s in secrets]
        if not matches_any(signature.strip(), expected):
            raise SignatureError("HubSpot signature does not match.")

    def learn(self, request: InboundRequest, target: WebhookTarget) -> dict[str, Any]:
        """A verified v3 request proves the app signs with v3: from now on the legacy forms are refused."""
        if request.headers.get(V3_SIGNATURE_HEADER) and target.settings.get(SIGNATURE_SETTING) != "v3":
            return {SIGNATURE_SETTING: "v3"}
        return {}

    def verify_card(self, request: InboundRequest, target: WebhookTarget) -> None:
        """App cards call through ``hubspot.fetch``, which HubSpot signs with v3. Only v3 is accepted: v1 covers
        neither the URL nor a timestamp, so a captured request could be replayed for another record."""
        secrets = [s for s in target.secrets if s]
        if not secrets:
            raise SignatureError("No HubSpot app client secret is configured for this connection.")
        signature = request.headers.get(V3_SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"Missing {V3_SIGNATURE_HEADER} header: call this endpoint with hubspot.fetch().")
        self._verify_v3(request, signature, secrets)
        portal = request.query.get("portalId")
        if portal and target.account_id and str(portal) != str(target.account_id):
            raise Forbidden(f"Portal {portal} is not the HubSpot account this connection is set up for.")

    # -- parsing -----------------------------------------------------------------------
    def parse(self, request: InboundRequest) -> list[ChangeEvent]:
        data = load_json(request)
        if not isinstance(data, list):
            raise MalformedPayload("HubSpot webhook body must be a JSON array of events.")
        if len(data) > MAX_EVENTS:
            raise PayloadTooLarge(f"At most {MAX_EVENTS} events per request.")
        events: list[ChangeEvent] = []
        for index, item in enumerate(data):
            event = self._event(item, index)
            if event is not None:
                events.append(event)
        return events

    def _event(self, item: Any, index: int) -> ChangeEvent | None:
        if not isinstance(item, dict):
            raise MalformedPayload(f"Event {index} is not a JSON object.")
        missing = [key for key in REQUIRED_KEYS if key not in item]
        subscription_type = item.get("subscriptionType", item.get("eventType"))
        if not isinstance(subscription_type, str):
            missing.append("subscriptionType")
        if missing:
            raise MalformedPayload(f"Event {index} lacks {', '.join(missing)}.")
        portal_id = _id(item, "portalId", index)
        object_id = _id(item, "objectId", index)
        occurred_at = _timestamp(item.get("occurredAt"), index)
        event_id = ":".join((portal_id, _id(item, "subscriptionId", index), _id(item, "eventId", index),
                             str(int(occurred_at.timestamp() * 1000))))
        mapped = _classify(subscription_type, item, object_id)
        if mapped is None:
            return None  # a subscription this product does not use (companies, products...): ignore
        kind, object_type, object_id, contact_ids = mapped
        source_id = item.get("sourceId")
        actor = str(source_id) if source_id not in (None, "") else item.get("changeSource")
        return ChangeEvent(
            platform=self.platform, event_id=event_id, kind=kind, object_type=object_type, object_id=object_id,
            occurred_at=occurred_at, account_id=portal_id, contact_ids=contact_ids,
            actor=str(actor) if actor is not None else None, raw=item,
            # a contact property edit; a merge, restore or association change moves interactions too
            record_only=object_type == "contact" and subscription_type.partition(".")[2] == "propertyChange",
        )

    # -- loop prevention ---------------------------------------------------------------
    def is_own_write(self, event: ChangeEvent, target: WebhookTarget) -> bool:
        raw = event.raw
        property_name = raw.get("propertyName")
        if isinstance(property_name, str) and property_name.startswith(PROPERTY_PREFIX):
            return True  # only the connector writes cem_* properties
        app_id = target.settings.get(APP_ID_SETTING)
        if app_id in (None, ""):
            return False
        source = str(raw.get("changeSource") or "").upper()
        return source in OWN_WRITE_SOURCES and str(raw.get("sourceId") or "") == str(app_id)


def _id(item: dict[str, Any], key: str, index: int) -> str:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise MalformedPayload(f"Event {index}: {key} must be an id.")
    text = str(value).strip()
    if len(text) > 64:
        raise MalformedPayload(f"Event {index}: {key} is too long.")
    return text


def _timestamp(value: Any, index: int) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedPayload(f"Event {index}: occurredAt must be epoch milliseconds.")
    try:
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise MalformedPayload(f"Event {index}: occurredAt must be epoch milliseconds.") from exc


def _classify(subscription_type: str, item: dict[str, Any],
              object_id: str) -> tuple[str, str, str, tuple[str, ...]] | None:
    """(kind, neutral object type, object id, affected contact ids), or None to ignore the event."""
    prefix, _, action = subscription_type.partition(".")
    prefix = prefix.lower()
    if prefix == "object":
        object_type = OBJECT_TYPE_IDS.get(str(item.get("objectTypeId", "")))
    else:
        object_type = OBJECT_NAMES.get(prefix.upper())
    if action == "associationChange":
        return _association(item, object_type, object_id)
    if object_type == "contact":
        kind = _CONTACT_KINDS.get(action)
        if kind is None:
            return None
        if action == "merge":
            object_id = str(item.get("newObjectId") or item.get("primaryObjectId") or object_id)
        return kind, "contact", object_id, (object_id,)
    if object_type is None or object_type == "interaction" or action not in _OBJECT_KINDS:
        return None
    return _OBJECT_KINDS[action], object_type, object_id, ()


def _association(item: dict[str, Any], object_type: str | None,
                 object_id: str) -> tuple[str, str, str, tuple[str, ...]] | None:
    """An association added/removed: which side is the contact and what is the other side."""
    from_id, to_id = item.get("fromObjectId"), item.get("toObjectId")
    association_type = str(item.get("associationType") or "").upper()
    from_name, _, to_name = association_type.partition("_TO_")
    from_type = OBJECT_TYPE_IDS.get(str(item.get("fromObjectTypeId", ""))) or OBJECT_NAMES.get(from_name)
    to_type = OBJECT_TYPE_IDS.get(str(item.get("toObjectTypeId", ""))) or OBJECT_NAMES.get(to_name)
    if from_type == "contact" and from_id not in (None, ""):
        contact, other_type, other_id = str(from_id), to_type, to_id
    elif to_type == "contact" and to_id not in (None, ""):
        contact, other_type, other_id = str(to_id), from_type, from_id
    else:
        return None  # e.g. DEAL_TO_COMPANY: no contact involved
    return (ASSOCIATION_CHANGED, other_type or object_type or "contact",
            str(other_id) if other_id not in (None, "") else object_id, (contact,))
