"""Dataverse webhooks: the ``RemoteExecutionContext`` JSON a service endpoint step posts.

Authentication (powerapps-docs register-web-hook.md): Dataverse sends a shared key and never
signs the body, so we compare the key in constant time against every configured secret:
- WebhookKey: query parameter ``code=<key>``;
- HttpHeader: header ``settings['webhook_header']`` (default ``x-cem-webhook-key``).
Then ``OrganizationId`` in the body must be the connection's organization (``account_id``).

Dedupe id: async steps run as a system job whose ``OperationId`` is kept when Dataverse retries
the job (one retry on 502/503/504), and the retried body is the same serialisation; sync steps
carry a zero ``OperationId``, so the id falls back to ``RequestId`` / ``CorrelationId``. The id
also includes the step (``OwningExtension.Id``), record, message and ``OperationCreatedOn``.

Loop prevention: ``InitiatingUserId`` (or ``UserId``) equal to ``settings['application_user_id']``
means the connector's own application user made the change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from adapters.dynamics.consts import APPLICATION_USER_SETTING
from adapters.ids import guid, host_name

from .base import InboundRequest, WebhookReceiver, WebhookTarget, load_json
from .errors import Forbidden, MalformedPayload, SignatureError
from .events import (
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    INTERACTION_CHANGED,
    INTERACTION_DELETED,
    ChangeEvent,
)
from .signatures import hmac_sha256_hex, matches_any

DEFAULT_HEADER = "x-cem-webhook-key"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
# Dataverse table -> platform-neutral object type
OBJECT_TYPES = {"contact": "contact", "email": "email", "phonecall": "call", "appointment": "meeting",
                "annotation": "note", "incident": "ticket", "opportunity": "deal"}
# Target attributes that point at the contact(s) an activity concerns
_CONTACT_LOOKUPS = ("regardingobjectid", "objectid", "customerid", "parentcontactid")
_PARTY_LISTS = ("from", "to", "cc", "bcc", "requiredattendees", "optionalattendees", "organizer", "customers")


def parse_wcf_date(value: Any) -> datetime | None:
    """``/Date(1506409448000-0700)/`` -> aware datetime (the offset only shifts the display zone)."""
    match = _WCF_DATE.match(str(value or ""))
    if not match:
        return None
    moment = datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    if match.group(2):
        sign = 1 if match.group(2)[0] == "+" else -1
        offset = timedelta(hours=int(match.group(2)[1:3]), minutes=int(match.group(2)[3:5])) * sign
        moment = moment.astimezone(timezone(offset))
    return moment


def _pairs(collection: Any, what: str) -> dict[str, Any]:
    """A ``[{key, value}]`` collection as a dict; anything else is malformed."""
    if collection is None:
        return {}
    if not isinstance(collection, list):
        raise MalformedPayload(f"{what} must be a list of key/value pairs.")
    out: dict[str, Any] = {}
    for item in collection:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise MalformedPayload(f"{what} must be a list of key/value pairs.")
        out[item["key"]] = item.get("value")
    return out


def _guid(value: Any, what: str, *, required: bool = True) -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not _GUID.match(value):
        raise MalformedPayload(f"{what} must be a GUID.")
    return value.lower()


CARD_TOKEN_HEADER = "X-CEM-Card-Token"


def card_token(secret: str, connection_id: int) -> str:
    """The token the CEM web resource on the contact form presents (derived, so the webhook key itself never
    reaches a browser). It only opens the read-only summaries of this connection's contacts, which every user
    who can open the form already sees in the CEM columns; rotating the webhook secret revokes it."""
    return hmac_sha256_hex(secret, f"cem-card-view:{connection_id}".encode())


def origin(url: Any) -> str | None:
    """The Origin a browser sends for pages under ``url`` (scheme and host, lowercased)."""
    parsed = urlsplit(str(url or ""))
    return f"{parsed.scheme}://{parsed.netloc}".lower() if parsed.scheme and parsed.netloc else None


class DynamicsReceiver(WebhookReceiver):
    platform = "dynamics"
    # Dataverse retries an async delivery once, only after a 502/503/504 (crm-apis.md §4): hours are plenty.
    redelivery_window = timedelta(hours=2)
    max_body_bytes = 512 * 1024  # Dataverse trims bodies over 256 KB (x-ms-dynamics-msg-size-exceeded)

    # -- authentication ------------------------------------------------------------------------
    def verify(self, request: InboundRequest, target: WebhookTarget) -> None:
        header_name = str(target.settings.get("webhook_header") or DEFAULT_HEADER)
        provided = request.query.get("code") or request.headers.get(header_name)
        if not matches_any(provided, target.secrets):
            raise SignatureError("Missing or wrong webhook key: send it as ?code=<key> (WebhookKey) or in the "
                                 f"{header_name} header (HttpHeader).")
        # Dataverse names the sending environment by host name (contoso.crm.dynamics.com)
        sent_by = request.headers.get("x-ms-dynamics-organization")
        org_url = target.settings.get("org_url")
        if sent_by and org_url and host_name(sent_by) != host_name(str(org_url)):
            raise Forbidden(f"This webhook comes from the Dataverse environment {host_name(sent_by)[:100]}, not "
                            f"{host_name(str(org_url))}, which this connection is set up for.")

    @classmethod
    def setup_lines(cls, url: str, secret: str) -> list[str]:
        return ["`cem-connector install dynamics` registers this webhook in Dataverse (service endpoint + steps).",
                f"By hand instead (Plug-in Registration Tool > Register New Web Hook): Endpoint URL {url}, "
                f"Authentication WebhookKey, Value {secret}"]

    account_form = staticmethod(guid)  # organisation GUIDs in any case, with or without braces

    # -- record view: the web resource on the contact form ---------------------------------------
    def verify_card(self, request: InboundRequest, target: WebhookTarget) -> None:
        provided = request.headers.get(CARD_TOKEN_HEADER)
        if not matches_any(provided, [card_token(s, target.connection_id) for s in target.secrets if s]):
            raise SignatureError(f"Missing or wrong {CARD_TOKEN_HEADER}: re-import the solution made by "
                                 "'cem-connector package dynamics' after a webhook secret rotation.")

    def card_origins(self, target: WebhookTarget) -> tuple[str, ...]:
        own = origin(target.settings.get("org_url"))
        return (own,) if own else ()

    def card_credential(self, target: WebhookTarget) -> str | None:
        return card_token(target.secrets[0], target.connection_id) if target.secrets else None

    # -- parsing -----------------------------------------------------------------------------
    def parse(self, request: InboundRequest) -> list[ChangeEvent]:
        context = load_json(request)
        if not isinstance(context, dict):
            raise MalformedPayload("Body must be a RemoteExecutionContext JSON object.")
        message = context.get("MessageName")
        entity_name = context.get("PrimaryEntityName")
        if not isinstance(message, str) or not message or not isinstance(entity_name, str) or not entity_name:
            raise MalformedPayload("RemoteExecutionContext needs MessageName and PrimaryEntityName.")
        record_id = _guid(context.get("PrimaryEntityId"), "PrimaryEntityId")
        organization_id = _guid(context.get("OrganizationId"), "OrganizationId")
        initiating = _guid(context.get("InitiatingUserId"), "InitiatingUserId", required=False)
        user = _guid(context.get("UserId"), "UserId", required=False)
        occurred = parse_wcf_date(context.get("OperationCreatedOn"))
        if occurred is None:
            raise MalformedPayload("OperationCreatedOn must be a /Date(ms)/ value.")
        depth = context.get("Depth", 1)
        if not isinstance(depth, int) or isinstance(depth, bool):
            raise MalformedPayload("Depth must be an integer.")
        inputs = _pairs(context.get("InputParameters"), "InputParameters")
        target = inputs.get("Target")
        images = _pairs(context.get("PostEntityImages"), "PostEntityImages")
        object_type = OBJECT_TYPES.get(entity_name.lower())
        if object_type is None:
            return []  # a table we never asked for: acknowledge, do nothing
        contacts = set()
        for entity in (target, *images.values()):
            contacts |= _contacts_in(entity)
        if object_type == "contact":
            contacts = {str(record_id)}
        kind = self._kind(message, object_type)
        assert record_id is not None and organization_id is not None
        return [ChangeEvent(
            platform=self.platform, event_id=self._event_id(context, organization_id, record_id, message),
            kind=kind, object_type=object_type, object_id=record_id, occurred_at=occurred.astimezone(UTC),
            account_id=organization_id, contact_ids=tuple(sorted(contacts)), actor=initiating or user,
            record_only=object_type == "contact" and message.lower() == "update",  # not Merge, Create, Assign...
            raw={"MessageName": message, "PrimaryEntityName": entity_name, "Depth": depth,
                 "Mode": context.get("Mode"), "Stage": context.get("Stage"),
                 "CorrelationId": context.get("CorrelationId"), "UserId": user,
                 "size_exceeded": request.headers.get("x-ms-dynamics-msg-size-exceeded") is not None},
        )]

    @staticmethod
    def _kind(message: str, object_type: str) -> str:
        lowered = message.lower()
        if object_type == "contact":
            return {"create": CONTACT_CREATED, "delete": CONTACT_DELETED}.get(lowered, CONTACT_CHANGED)
        return INTERACTION_DELETED if lowered == "delete" else INTERACTION_CHANGED

    @staticmethod
    def _event_id(context: Mapping[str, Any], organization_id: str, record_id: str, message: str) -> str:
        operation = str(context.get("OperationId") or "")
        if not operation or operation == ZERO_GUID:
            operation = str(context.get("RequestId") or context.get("CorrelationId") or "")
        step = (context.get("OwningExtension") or {}).get("Id") if isinstance(context.get("OwningExtension"),
                                                                              dict) else None
        key = "|".join((organization_id, operation, str(step or ""), record_id, message,
                        str(context.get("OperationCreatedOn"))))
        return "dyn-" + hashlib.sha256(key.encode()).hexdigest()[:40]

    # -- routing and loops ------------------------------------------------------------------
    def is_own_write(self, event: ChangeEvent, target: WebhookTarget) -> bool:
        own = str(target.settings.get(APPLICATION_USER_SETTING) or "").lower()
        actors = {event.actor, event.raw.get("UserId")}
        return bool(own) and own in {str(a).lower() for a in actors if a}


def _contacts_in(entity: Any) -> set[str]:
    """Contact ids referenced by an Entity: lookups to contact and activity-party lists."""
    if not isinstance(entity, dict):
        return set()
    try:
        attributes = _pairs(entity.get("Attributes"), "Entity.Attributes")
    except MalformedPayload:
        return set()
    found: set[str] = set()
    for name in _CONTACT_LOOKUPS:
        reference = attributes.get(name)
        if isinstance(reference, dict) and reference.get("LogicalName") == "contact" and \
                isinstance(reference.get("Id"), str) and _GUID.match(reference["Id"]):
            found.add(reference["Id"].lower())
    for name in _PARTY_LISTS:
        collection = attributes.get(name)
        if not isinstance(collection, dict):
            continue
        for party in collection.get("Entities") or []:
            found |= _contacts_in_party(party)
    return found


def _contacts_in_party(party: Any) -> set[str]:
    if not isinstance(party, dict):
        return set()
    try:
        attributes = _pairs(party.get("Attributes"), "activityparty")
    except MalformedPayload:
        return set()
    reference = attributes.get("partyid")
    if isinstance(reference, dict) and reference.get("LogicalName") == "contact" and \
            isinstance(reference.get("Id"), str) and _GUID.match(reference["Id"]):
        return {reference["Id"].lower()}
    return set()
