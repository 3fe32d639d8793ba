"""Outbound Messages as Salesforce sends them: SOAP ``notifications`` with up to 100
``Notification`` elements, retried until the listener answers ``<Ack>true</Ack>``.

Retry schedule (documented): the interval grows exponentially up to 2 hours between
attempts, and a message still undelivered 24 hours after it was queued is dropped. The
sandbox's ``time_scale`` shrinks those delays for tests and the demo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from ..sender import WebhookSender

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
MAX_NOTIFICATIONS = 100
FIRST_RETRY_SECONDS = 15.0
MAX_INTERVAL_SECONDS = 2 * 3600.0
GIVE_UP_AFTER_SECONDS = 24 * 3600.0

# The fields each outbound message definition sends (an admin picks them in Setup).
OUTBOUND_FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": ("Id", "Email", "LastModifiedById", "LastModifiedDate"),
    "Lead": ("Id", "Email", "LastModifiedById", "LastModifiedDate"),
    "Task": ("Id", "WhoId", "WhatId", "TaskSubtype", "LastModifiedById", "LastModifiedDate"),
    "EmailMessage": ("Id", "ParentId", "RelatedToId", "Incoming", "LastModifiedById", "LastModifiedDate"),
    "Case": ("Id", "ContactId", "Status", "LastModifiedById", "LastModifiedDate"),
    "CaseComment": ("Id", "ParentId", "LastModifiedById", "LastModifiedDate"),
    "Opportunity": ("Id", "StageName", "LastModifiedById", "LastModifiedDate"),
    "SurveyResponse": ("Id", "SubmitterId", "LastModifiedById", "LastModifiedDate"),
}


def retry_schedule() -> list[float]:
    """Delays between attempts: doubling from 15 s, capped at 2 h, stopping once 24 h have passed."""
    delays: list[float] = []
    delay, total = FIRST_RETRY_SECONDS, 0.0
    while total + delay <= GIVE_UP_AFTER_SECONDS:
        delays.append(delay)
        total += delay
        delay = min(delay * 2, MAX_INTERVAL_SECONDS)
    return delays


def acknowledged(status: int | None, body: bytes) -> bool:
    """Delivered only when the listener answered 200 with ``<Ack>true</Ack>`` in the SOAP body."""
    return status == 200 and re.search(rb"<(?:\w+:)?Ack>\s*true\s*</(?:\w+:)?Ack>", body) is not None


def make_sender(time_scale: float) -> WebhookSender:
    # No signature: an outbound message authenticates only by the secret in its URL (and TLS).
    return WebhookSender(lambda url, body: {"SOAPAction": '""'}, retry_delays=retry_schedule(),
                         acknowledged=acknowledged, jitter=0.0, time_scale=time_scale)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def envelope(org_id: str, action_id: str, base_url: str, api_version: str,
             notifications: Sequence[tuple[str, str, Mapping[str, Any]]]) -> bytes:
    """One SOAP message; ``notifications`` are (notification id, sObject type, record)."""
    if not 1 <= len(notifications) <= MAX_NOTIFICATIONS:
        raise ValueError(f"an outbound message carries 1 to {MAX_NOTIFICATIONS} notifications")
    items = []
    for notification_id, sobject, record in notifications:
        fields = "".join(f"<sf:{name}>{_value(record[name])}</sf:{name}>"
                         for name in OUTBOUND_FIELDS.get(sobject, ("Id",)) if record.get(name) is not None)
        items.append(f"<Notification><Id>{notification_id}</Id><sObject xsi:type=\"sf:{sobject}\" "
                     f"xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">{fields}</sObject></Notification>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>{action_id}</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>{base_url}/services/Soap/c/{api_version}/{org_id}</EnterpriseUrl>"
        f"<PartnerUrl>{base_url}/services/Soap/u/{api_version}/{org_id}</PartnerUrl>"
        + "".join(items) + "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()
