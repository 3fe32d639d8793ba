"""Salesforce webhooks on one URL, ``POST /webhooks/salesforce/<connection_id>``, in two forms.

1. Outbound Messages (``text/xml``): SOAP ``notifications`` with up to 100 ``Notification``
   elements. They carry no signature, so the endpoint URL holds a secret (``?token=``, compared
   in constant time against every configured secret) and ``OrganizationId`` must be the
   connection's org (403 otherwise). The answer is the exact ``notificationsResponse`` with
   ``<Ack>true</Ack>``; errors are SOAP faults with a 4xx/503 status, so Salesforce retries.
   Each ``Notification/Id`` is the dedupe key; ``LastModifiedById`` names the actor.
2. JSON (``application/json``) from a Flow HTTP callout, an Apex callout or a Change Data Capture
   relay, signed ``X-CEM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``
   (5-minute window, several ``v1`` allowed). Body: ``{"organizationId": "00D...", "events": [...]}``
   where an event is either ``{"id", "object", "recordId", "changeType", "commitTimestamp",
   "commitUser", "contactIds"?}`` or a CDC event ``{"ChangeEventHeader": {...}, ...}``.

Loop prevention: a change whose actor (``LastModifiedById`` / ``commitUser``) is the connection's
``integration_user_id``, or whose CDC ``changeOrigin`` names our client id, is the connector's own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from adapters.fields import as_utc
from adapters.ids import salesforce_id18
from adapters.salesforce.consts import CALL_OPTIONS, INTEGRATION_USER_SETTING

from .base import InboundRequest, Sink, WebhookReceiver, WebhookResponse, WebhookTarget, load_json
from .errors import Forbidden, MalformedPayload, SignatureError, WebhookError
from .events import (
    ASSOCIATION_CHANGED,
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    INTERACTION_CHANGED,
    INTERACTION_DELETED,
    ChangeEvent,
)
from .signatures import check_timestamp, hmac_sha256_hex, matches_any

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XML_TYPES = ("text/xml", "application/xml")
SIGNATURE_HEADER = "X-CEM-Signature"
TOLERANCE_SECONDS = 300.0
MAX_NOTIFICATIONS = 100
MAX_JSON_EVENTS = 500

ACK_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)

# sObject -> platform-neutral object type (Task is refined by TaskSubtype)
OBJECT_TYPES = {"Contact": "contact", "Lead": "contact", "EmailMessage": "email", "Case": "ticket",
                "CaseComment": "ticket", "Opportunity": "deal", "OpportunityContactRole": "deal",
                "SurveyResponse": "survey", "Event": "meeting", "Task": "note"}
CONTACT_PREFIXES = ("003", "00Q")


def signature_header(secret: str, body: bytes, timestamp: float | None = None) -> dict[str, str]:
    """The ``X-CEM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` header a
    relay posting JSON to the signed endpoint sends (for relays, tests and benchmarks)."""
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {SIGNATURE_HEADER: f"t={stamp},v1={hmac_sha256_hex(secret, stamp.encode() + b'.' + body)}"}


def soap_fault(error: WebhookError) -> WebhookResponse:
    code = "soapenv:Client" if error.status < 500 else "soapenv:Server"
    body = (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
            f"<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{escape(error.message)}</faultstring>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>")
    return WebhookResponse(error.status, body, "text/xml; charset=utf-8")


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _parse_xml(body: bytes) -> Element:
    try:
        return ElementTree.fromstring(body, forbid_dtd=True)
    # LookupError: an XML declaration naming an encoding Python does not know (encoding="ATF-8")
    except (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise MalformedPayload("Body is not a well-formed SOAP message (DTDs and entities are refused).") from exc


def _notifications(root: Element) -> Element:
    body = _child(root, "Body") if _local(root.tag) == "Envelope" and root.tag.startswith(f"{{{SOAP_NS}}}") else None
    notifications = _child(body, "notifications") if body is not None else None
    if notifications is None or notifications.tag != f"{{{OUTBOUND_NS}}}notifications":
        raise MalformedPayload("Expected a SOAP Envelope whose Body holds an outbound-message 'notifications'.")
    return notifications


def _organization_id(notifications: Element) -> str:
    element = _child(notifications, "OrganizationId")
    org_id = (element.text or "").strip() if element is not None else ""
    if not org_id:
        raise MalformedPayload("The outbound message has no OrganizationId.")
    return org_id


def _parse_time(value: Any, fallback: float) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)  # CDC commitTimestamp: epoch milliseconds
    if isinstance(value, str) and value:
        text = value.replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise MalformedPayload(f"'{value}' is not an ISO 8601 timestamp.") from exc
        return as_utc(parsed)
    return datetime.fromtimestamp(fallback, UTC)


def _kind(object_type: str, change_type: str) -> str:
    change = change_type.upper()
    if object_type == "contact":
        return {"CREATE": CONTACT_CREATED, "DELETE": CONTACT_DELETED}.get(change, CONTACT_CHANGED)
    if change == "DELETE":
        return INTERACTION_DELETED
    return ASSOCIATION_CHANGED if object_type == "deal" and change == "ASSOCIATION" else INTERACTION_CHANGED


def _object_type(sobject: str, fields: Mapping[str, Any]) -> str:
    if sobject == "Task":
        subtype = str(fields.get("TaskSubtype") or "").lower()
        return "call" if subtype == "call" else "email" if subtype == "email" else "note"
    return OBJECT_TYPES.get(sobject, sobject.lower())


def _contact_ids(sobject: str, record_id: str, fields: Mapping[str, Any]) -> tuple[str, ...]:
    candidates = [record_id] if sobject in ("Contact", "Lead") else [
        fields.get("WhoId"), fields.get("ContactId"), fields.get("SubmitterId")]
    return tuple(str(c) for c in candidates if isinstance(c, str) and c[:3] in CONTACT_PREFIXES)


class SalesforceReceiver(WebhookReceiver):
    platform = "salesforce"
    redelivery_window = timedelta(hours=26)  # outbound messages are retried for 24 h, plus a margin
    content_types = ("text/xml", "application/xml", "application/json")

    # -- answers: SOAP for outbound messages, JSON for the signed endpoint ------------------------
    def handle(self, request: InboundRequest, targets: Sequence[WebhookTarget], sink: Sink) -> WebhookResponse:
        soap = request.content_type in XML_TYPES
        try:
            response = self._handle(request, targets, sink)
        except WebhookError as error:
            return soap_fault(error) if soap else self.error_response(error)
        return WebhookResponse(200, ACK_BODY, "text/xml; charset=utf-8") if soap else response

    @classmethod
    def setup_lines(cls, url: str, secret: str) -> list[str]:
        return [f"Outbound Message Endpoint URL (Setup > Outbound Messages > New): {url}?token={secret}",
                f"Flow / Apex / CDC relay callouts: POST JSON to {url}, header {SIGNATURE_HEADER}: "
                f"t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> keyed with: {secret}"]

    account_form = staticmethod(salesforce_id18)  # org ids arrive with 15 or 18 characters

    # -- verification -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, target: WebhookTarget) -> None:
        if request.content_type in XML_TYPES:
            self._verify_outbound(request, target)
        else:
            self._verify_signed_json(request, target)

    @staticmethod
    def _token(request: InboundRequest) -> str | None:
        token = request.query.get("token") if request.query else None
        if token is None:
            values = parse_qs(urlparse(request.url).query).get("token")
            token = values[0] if values else None
        return token

    def _verify_outbound(self, request: InboundRequest, target: WebhookTarget) -> None:
        if not matches_any(self._token(request), target.secrets):
            raise SignatureError("Missing or wrong ?token= in the outbound message endpoint URL.")
        org_id = _organization_id(_notifications(_parse_xml(request.body)))
        if target.account_id and self.account_key(org_id) != self.account_key(target.account_id):
            raise Forbidden(f"Organization {org_id} is not the org this connection is set up for.")

    def _verify_signed_json(self, request: InboundRequest, target: WebhookTarget) -> None:
        header = request.headers.get(SIGNATURE_HEADER) or ""
        timestamp, signatures = None, []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                timestamp = value
            elif key == "v1" and value:
                signatures.append(value.lower())
        if not timestamp or not signatures:
            raise SignatureError(f"Missing {SIGNATURE_HEADER} header (t=<unix seconds>,v1=<hex HMAC-SHA256>).")
        try:
            sent_at = float(timestamp)
        except ValueError:
            raise SignatureError(f"{SIGNATURE_HEADER} has a non-numeric timestamp.") from None
        check_timestamp(sent_at, self.clock(), TOLERANCE_SECONDS)
        message = timestamp.encode() + b"." + request.body
        expected = [hmac_sha256_hex(secret, message) for secret in target.secrets]
        if not any(matches_any(signature, expected) for signature in signatures):
            raise SignatureError("The signature does not match the body; check the shared secret.")
        organization = self._json_organization(request)
        if organization and target.account_id and self.account_key(organization) != self.account_key(
                target.account_id):
            raise Forbidden(f"Organization {organization} is not the org this connection is set up for.")

    @staticmethod
    def _json_organization(request: InboundRequest) -> str | None:
        data = load_json(request)
        if isinstance(data, dict) and isinstance(data.get("organizationId"), str):
            return data["organizationId"]
        return None

    # -- parsing --------------------------------------------------------------------------------------
    def parse(self, request: InboundRequest) -> list[ChangeEvent]:
        if request.content_type in XML_TYPES:
            return self._parse_outbound(request)
        return self._parse_json(request)

    def _parse_outbound(self, request: InboundRequest) -> list[ChangeEvent]:
        notifications = _notifications(_parse_xml(request.body))
        org_id = _organization_id(notifications)
        items = [n for n in notifications if _local(n.tag) == "Notification"]
        if not items:
            raise MalformedPayload("The outbound message holds no Notification.")
        if len(items) > MAX_NOTIFICATIONS:
            raise MalformedPayload(f"An outbound message holds at most {MAX_NOTIFICATIONS} notifications.")
        action_element = _child(notifications, "ActionId")
        action = (action_element.text or "") if action_element is not None else ""
        events = []
        for item in items:
            id_element, sobject_element = _child(item, "Id"), _child(item, "sObject")
            notification_id = (id_element.text or "").strip() if id_element is not None else ""
            if not notification_id or sobject_element is None:
                raise MalformedPayload("Each Notification needs an Id and an sObject.")
            sobject = str(sobject_element.get(XSI_TYPE) or "").rsplit(":", 1)[-1]
            fields = {_local(child.tag): (child.text or "").strip() for child in sobject_element}
            record_id = fields.get("Id", "")
            if not sobject or not record_id:
                raise MalformedPayload("Each sObject needs an xsi:type and an Id.")
            object_type = _object_type(sobject, fields)
            events.append(ChangeEvent(
                platform=self.platform, event_id=f"om:{notification_id}", kind=_kind(object_type, "UPDATE"),
                object_type=object_type, object_id=record_id,
                occurred_at=_parse_time(fields.get("LastModifiedDate") or fields.get("SystemModstamp"), self.clock()),
                account_id=org_id, contact_ids=_contact_ids(sobject, record_id, fields),
                actor=fields.get("LastModifiedById") or None,
                raw={"sobject": sobject, "fields": fields, "action_id": action},
            ))
        return events

    def _parse_json(self, request: InboundRequest) -> list[ChangeEvent]:
        data = load_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise MalformedPayload('Expected {"organizationId": "00D...", "events": [...]}.')
        if len(data["events"]) > MAX_JSON_EVENTS:
            raise MalformedPayload(f"Send at most {MAX_JSON_EVENTS} events per request.")
        organization = data.get("organizationId") if isinstance(data.get("organizationId"), str) else None
        events: list[ChangeEvent] = []
        for index, item in enumerate(data["events"]):
            if not isinstance(item, dict):
                raise MalformedPayload(f"events[{index}] must be an object.")
            if isinstance(item.get("ChangeEventHeader"), dict):
                events.extend(self._cdc_events(item, organization, index))
            else:
                events.append(self._simple_event(item, organization, index))
        return events

    def _simple_event(self, item: Mapping[str, Any], organization: str | None, index: int) -> ChangeEvent:
        values = {key: item.get(key) for key in ("id", "object", "recordId")}
        missing = [key for key, value in values.items() if not isinstance(value, str) or not value]
        if missing:
            raise MalformedPayload(f"events[{index}] needs string fields: {', '.join(missing)}.")
        change = item.get("changeType") or "UPDATE"
        contacts = item.get("contactIds") or []
        if not isinstance(change, str) or not isinstance(contacts, list) or not all(
                isinstance(c, str) for c in contacts):
            raise MalformedPayload(f"events[{index}]: changeType must be a string and contactIds a list of ids.")
        sobject, record_id = str(values["object"]), str(values["recordId"])
        object_type = _object_type(sobject, item)
        user = item.get("commitUser") if isinstance(item.get("commitUser"), str) else None
        return ChangeEvent(
            platform=self.platform, event_id=f"json:{values['id']}", kind=_kind(object_type, change),
            object_type=object_type, object_id=record_id,
            occurred_at=_parse_time(item.get("commitTimestamp"), self.clock()), account_id=organization,
            contact_ids=tuple(dict.fromkeys([*_contact_ids(sobject, record_id, item), *contacts])),
            actor=user, raw=dict(item))

    def _cdc_events(self, item: Mapping[str, Any], organization: str | None, index: int) -> list[ChangeEvent]:
        header = item["ChangeEventHeader"]
        sobject, change, records = header.get("entityName"), header.get("changeType"), header.get("recordIds")
        if not isinstance(sobject, str) or not isinstance(change, str) or not isinstance(records, list) \
                or not records or not all(isinstance(r, str) and r for r in records):
            raise MalformedPayload(f"events[{index}].ChangeEventHeader needs entityName, changeType and recordIds.")
        key = f"{header.get('transactionKey')}:{header.get('sequenceNumber')}"
        if key == "None:None":
            key = str(item.get("replayId") or "")
            if not key:
                raise MalformedPayload(f"events[{index}] needs transactionKey + sequenceNumber or replayId.")
        user = header.get("commitUser") if isinstance(header.get("commitUser"), str) else None
        object_type = _object_type(sobject, item)
        change_type = change.removeprefix("GAP_")
        events = []
        for record_id in records:
            events.append(ChangeEvent(
                platform=self.platform, event_id=f"cdc:{key}:{record_id}", kind=_kind(object_type, change_type),
                object_type=object_type, object_id=record_id,
                occurred_at=_parse_time(header.get("commitTimestamp"), self.clock()), account_id=organization,
                contact_ids=_contact_ids(sobject, record_id, item), actor=user,
                raw={"header": dict(header), "changeOrigin": header.get("changeOrigin")}))
        return events

    # -- loop prevention ------------------------------------------------------------------------------
    def is_own_write(self, event: ChangeEvent, target: WebhookTarget) -> bool:
        if CALL_OPTIONS in str(event.raw.get("changeOrigin") or ""):
            return True
        own = str(target.settings.get(INTEGRATION_USER_SETTING) or "")
        return bool(own and event.actor and event.actor[:15] == own[:15])
