"""A local HubSpot portal: the CRM v3/v4 API, OAuth, rate limits and signed app webhooks.

The connector points hubspot-api-client's base URL at ``url``; every answer matches what
api.hubapi.com answers on the same path (see ``api`` for shapes and their sources).
Modules: ``schema`` (object model), ``store`` (data), ``search``,
``auth`` (tokens), ``webhooks`` (events, signatures, retries), ``api`` (routes).
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import Flask

from ..base import SandboxCRM, chunked
from ..ratelimit import SlidingWindowLimiter
from ..sender import WebhookSender
from .api import build_app
from .auth import TokenRegistry
from .schema import LIFECYCLE_STAGES, OBJECT_TYPES, parse_moment
from .store import Change, HubSpotStore, StoredObject
from .webhooks import MAX_EVENTS_PER_REQUEST, EventFactory, HubSpotWebhookSender

# the properties an app subscribes to: the connector's inputs, never its cem_* outputs
DEFAULT_SUBSCRIBED_PROPERTIES = ("lifecyclestage", "firstname", "lastname", "email", "company")
UI_CHANGE = Change("CRM_UI", "userId:7001", 7001)

# exchange interaction kind -> HubSpot object type
KIND_TO_OBJECT = {"email": "emails", "call": "calls", "note": "notes", "meeting": "meetings", "ticket": "tickets",
                  "chat": "communications", "survey": "feedback_submissions", "form": "notes"}
# default ticket pipeline stages: 1 New, 2 Waiting on contact, 3 Waiting on us, 4 Closed
TICKET_STATUS = {"open": "1", "new": "1", "waiting_on_contact": "2", "waiting_on_us": "3", "closed": "4"}
TICKET_PRIORITY = {"low": "LOW", "normal": "MEDIUM", "medium": "MEDIUM", "high": "HIGH", "urgent": "HIGH"}
DEAL_TYPES = {"new_business": "newbusiness", "upsell": "existingbusiness", "renewal": "existingbusiness"}


class HubSpotLimits:
    """Burst limit per app (100 / 10 s), search limit (5 / s) and the daily allowance."""

    def __init__(self, burst_limit: int, burst_window: float, search_per_second: int, daily_limit: int) -> None:
        self.burst_limit, self.burst_window, self.daily_limit = burst_limit, burst_window, daily_limit
        self._burst = SlidingWindowLimiter(burst_limit, burst_window)
        self._search = SlidingWindowLimiter(search_per_second, 1.0)
        self._daily_used = 0
        self._lock = threading.Lock()

    def acquire(self, *, search: bool) -> tuple[bool, int, float, str]:
        """(allowed, remaining in the burst window, seconds to wait, policy name when refused)."""
        with self._lock:
            if self._daily_used >= self.daily_limit:
                return False, 0, 3600.0, "DAILY"
        if search:
            allowed, remaining, wait = self._search.try_acquire()
            policy = "SECONDLY"
        else:
            allowed, remaining, wait = self._burst.try_acquire()
            policy = "TEN_SECONDLY_ROLLING"
        if allowed:
            with self._lock:
                self._daily_used += 1
        return allowed, remaining, wait, policy

    def daily_remaining(self) -> int:
        with self._lock:
            return max(0, self.daily_limit - self._daily_used)


class HubSpotSandbox(SandboxCRM):
    platform: ClassVar[str] = "hubspot"

    def __init__(self, *, time_scale: float = 0.001, portal_id: int = 62515, app_id: int = 1160452,
                 client_id: str = "5f1c2d3e-0b7a-4c1e-9a55-2f3b8c9d0e1f",
                 client_secret: str = "sbx-client-secret-7d2e41c9", private_token: str = "pat-na1-sandbox-0001",
                 rate_limit: int = 100, rate_window: float = 10.0, search_per_second: int = 5,
                 daily_limit: int = 250_000, token_ttl: int = 1800, latency: float = 0.0,
                 subscribed_properties: Sequence[str] = DEFAULT_SUBSCRIBED_PROPERTIES) -> None:
        self.portal_id, self.app_id = portal_id, app_id
        self.private_token = private_token
        self.webhook_secret = client_secret  # HubSpot signs with the app's client secret
        self.lock = threading.RLock()
        super().__init__(time_scale=time_scale)
        self.latency = latency
        self.store = HubSpotStore()
        self.tokens = TokenRegistry(portal_id=portal_id, app_id=app_id, client_id=client_id,
                                    client_secret=client_secret, private_token=private_token, token_ttl=token_ttl)
        self.limits = HubSpotLimits(rate_limit, rate_window, search_per_second, daily_limit)
        self.events = EventFactory(portal_id, app_id, subscribed_properties)
        self._faults: list[tuple[int, float | None]] = []
        self._contact_ids: dict[str, str] = {}  # exchange contact id -> native id
        self._native_ids: dict[str, str] = {}  # exchange deal / interaction id -> native id
        self.owners: dict[str, dict[str, Any]] = {}  # owner id -> the owners API's record
        self.owners_scope = True  # crm.objects.owners.read granted (tests revoke it)
        self.sent_events: list[dict[str, Any]] = []

    # -- SandboxCRM ------------------------------------------------------------------------------------------
    def create_app(self) -> Flask:
        return build_app(self)

    def make_sender(self) -> WebhookSender:
        return HubSpotWebhookSender(lambda: self.webhook_secret, time_scale=self.time_scale)

    def connection_settings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({"api_base_url": self.url, "portal_id": self.portal_id, "app_id": self.app_id},
                {"access_token": self.private_token, "client_id": self.tokens.client_id,
                 "client_secret": self.tokens.client_secret})

    def contact_ids(self) -> list[str]:
        return list(self._contact_ids.values())

    def native_contact_id(self, exchange_contact_id: str) -> str:
        return self._contact_ids[exchange_contact_id]

    def native_id(self, exchange_id: str) -> str:
        """The native id of a seeded deal or interaction, by its exchange id."""
        return self._native_ids[exchange_id]

    def contact_record(self, contact_id: str) -> dict[str, Any]:
        record = self.store.get("contacts", contact_id)
        if record is None:
            raise KeyError(contact_id)
        with self.store.lock:
            return record.to_json(sorted(record.properties), sorted(record.history))

    # -- test knobs ------------------------------------------------------------------------------------------
    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        """Answer the next ``n`` API calls with ``status`` (429 / 500 / 502 ...)."""
        with self.lock:
            self._faults.extend([(status, retry_after)] * n)

    def take_fault(self) -> tuple[int, float | None] | None:
        with self.lock:
            return self._faults.pop(0) if self._faults else None

    # -- seeding ---------------------------------------------------------------------------------------------
    def seed_contact(self, row: Mapping[str, Any]) -> StoredObject:
        stage = str(row.get("lifecycle_stage") or "lead").lower()
        values = {"firstname": row.get("first_name"), "lastname": row.get("last_name"), "email": row.get("email"),
                  "company": row.get("company"), "lifecyclestage": stage if stage in LIFECYCLE_STAGES else "other",
                  "hubspot_owner_id": self.owner_id(str(row["owner"])) if row.get("owner") else None}
        created = _moment(row.get("created"))
        record = self.store.create("contacts", {k: v for k, v in values.items() if v is not None}, UI_CHANGE,
                                   at=created)
        with self.lock:
            self._contact_ids[str(row["contact_id"])] = record.id
        return record

    def owner_id(self, name: str) -> str:
        """The id of the owner called ``name`` (a HubSpot user), created on first use."""
        with self.lock:
            for owner_id, owner in self.owners.items():
                if f"{owner['firstName']} {owner['lastName']}".strip() == name:
                    return owner_id
            owner_id = str(41629779 + len(self.owners))
            first, _, last = name.partition(" ")
            stamp = "2026-01-05T09:00:00.000Z"
            user_id = 9586504 + len(self.owners)
            self.owners[owner_id] = {
                "id": owner_id, "email": f"{first.lower()}@vendor.example", "type": "PERSON", "firstName": first,
                "lastName": last, "userId": user_id, "userIdIncludingInactive": user_id,
                "createdAt": stamp, "updatedAt": stamp, "archived": False}
            return owner_id

    def _contact_for(self, row: Mapping[str, Any]) -> str:
        exchange_id = str(row["contact_id"])
        if exchange_id not in self._contact_ids:
            self.seed_contact({"contact_id": exchange_id})
        return self._contact_ids[exchange_id]

    def seed_deal(self, row: Mapping[str, Any]) -> StoredObject:
        contact_id = self._contact_for(row)
        values = {"dealname": row.get("name") or "Deal", "dealstage": row.get("stage") or "appointmentscheduled",
                  "pipeline": "default", "dealtype": DEAL_TYPES.get(str(row.get("type")), "newbusiness"),
                  "amount": row.get("amount"), "closedate": _iso(row.get("close_date"))}
        created = _moment(row.get("created"))
        record = self.store.create("deals", {k: v for k, v in values.items() if v is not None}, UI_CHANGE, at=created)
        self.store.associate("contacts", contact_id, "deals", record.id)
        self._remember(row, record)
        return record

    def _add_engagement(self, row: Mapping[str, Any]) -> StoredObject:
        contact_id = self._contact_for(row)
        object_type = KIND_TO_OBJECT.get(str(row.get("kind")), "notes")
        occurred = _moment(row.get("occurred_at")) or datetime.now(UTC)
        values = _engagement_values(object_type, row, occurred, contact_id)
        record = self.store.create(object_type, values, UI_CHANGE, at=occurred)
        self.store.associate("contacts", contact_id, object_type, record.id)
        self._remember(row, record)
        return record

    def _remember(self, row: Mapping[str, Any], record: StoredObject) -> None:
        if row.get("id") is not None:
            with self.lock:
                self._native_ids[str(row["id"])] = record.id

    # -- webhooks --------------------------------------------------------------------------------------------
    def send_events(self, events: Sequence[dict[str, Any]]) -> int:
        """POST events to the subscribed URL, at most 100 per request, signed and retried."""
        if not self.webhook_url or not events:
            return 0
        for batch in chunked(events, MAX_EVENTS_PER_REQUEST):
            with self.lock:
                self.sent_events.extend(batch)
            self.sender.send(self.webhook_url, json.dumps(batch, separators=(",", ":")).encode())
        return len(events)

    def property_change_event(self, contact_id: str, property_name: str) -> dict[str, Any]:
        """The propertyChange event for the latest change of the property, with its real change source."""
        record = self.store.get("contacts", contact_id)
        if record is None:
            raise KeyError(contact_id)
        with self.store.lock:
            history = record.history.get(property_name) or []
            latest = history[-1] if history else None
            value = record.properties.get(property_name)
        change = latest.change if latest else UI_CHANGE
        occurred = _epoch_ms(latest.timestamp) if latest else None
        return self.events.property_change(contact_id, property_name, value, change.source_type, change.source_id,
                                           occurred)

    def emit_contact_changes(self, contact_ids: Iterable[str], property_name: str = "lifecyclestage") -> int:
        return self.send_events([self.property_change_event(c, property_name) for c in contact_ids])

    def update_contact(self, contact_id: str, values: Mapping[str, Any], *, notify: bool = True) -> list[str]:
        """A user edits the contact in HubSpot: stored with CRM_UI history, webhooks for subscribed properties."""
        record = self.store.get("contacts", contact_id)
        if record is None:
            raise KeyError(contact_id)
        clean, invalid = self.store.validate("contacts", values)
        if invalid:
            raise ValueError("; ".join(e.message for e in invalid))
        changed = self.store.apply(record, clean, UI_CHANGE)
        if notify:
            self.send_events([self.property_change_event(contact_id, n) for n in changed
                              if n in self.events.subscribed_properties])
        return changed

    def after_api_write(self, object_type: str, record: StoredObject, changed: Sequence[str]) -> None:
        """API writes raise webhooks only for subscribed properties, marked INTEGRATION + app id."""
        if object_type != "contacts":
            return
        subscribed = [n for n in changed if n in self.events.subscribed_properties]
        if subscribed:
            self.send_events([self.property_change_event(record.id, n) for n in subscribed])

    def add_contact(self, row: Mapping[str, Any], *, notify: bool = True) -> str:
        record = self.seed_contact(row)
        if notify:
            self.send_events([self.events.creation("contact", record.id, "CRM_UI", None)])
        return record.id

    def add_interaction(self, record: Mapping[str, Any], *, notify: bool = True) -> str:
        """Store an exchange interaction (or deal) associated to its contact and send HubSpot's events."""
        contact_id = self._contact_for(record)
        if record.get("record") == "deal":
            stored, legacy = self.seed_deal(record), "deal"
        else:
            stored = self._add_engagement(record)
            legacy = "ticket" if stored.object_type == "tickets" else ""
        if notify:
            spec = OBJECT_TYPES[stored.object_type]
            occurred = _epoch_ms(stored.created_at)
            if legacy:
                events = [self.events.creation(legacy, stored.id, "CRM_UI", None, occurred),
                          self.events.association_change(contact_id, spec.association_label, stored.id, True),
                          self.events.association_change(contact_id, spec.association_label, stored.id, False)]
            else:
                events = [self.events.object_creation(spec.type_id, stored.id, "CRM_UI", None, occurred)]
            self.send_events(events)
        return stored.id

    def emit_deletion(self, contact_id: str) -> int:
        """GDPR delete: archive the contact; contact.deletion and contact.privacyDeletion in separate batches."""
        if not self.store.archive("contacts", contact_id):
            raise KeyError(contact_id)
        sent = self.send_events([self.events.deletion(contact_id)])
        return sent + self.send_events([self.events.deletion(contact_id, privacy=True)])


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return parse_moment(value)


def _iso(value: Any) -> str | None:
    moment = _moment(value)
    return None if moment is None else str(int(moment.timestamp() * 1000))


def _epoch_ms(iso_value: str) -> int:
    moment = parse_moment(iso_value)
    return int(moment.timestamp() * 1000) if moment else 0


def _engagement_values(object_type: str, row: Mapping[str, Any], occurred: datetime,
                       contact_id: str) -> dict[str, Any]:
    """Exchange interaction -> the native properties HubSpot stores for that engagement type."""
    subject, body = row.get("subject") or "", row.get("body") or ""
    direction = str(row.get("direction") or "")
    metadata: Mapping[str, Any] = row.get("metadata") or {}
    stamp = str(int(occurred.timestamp() * 1000))
    if object_type == "emails":
        email_direction = ("FORWARDED_EMAIL" if metadata.get("forwarded") else
                           "INCOMING_EMAIL" if direction == "inbound" else "EMAIL")
        return {"hs_timestamp": stamp, "hs_email_subject": subject, "hs_email_text": body,
                "hs_email_html": f"<div>{html.escape(body)}</div>", "hs_email_direction": email_direction,
                "hs_email_status": "SENT"}
    if object_type == "calls":
        return {"hs_timestamp": stamp, "hs_call_title": subject, "hs_call_body": body,
                "hs_call_direction": "INBOUND" if direction == "inbound" else "OUTBOUND"}
    if object_type == "meetings":
        return {"hs_timestamp": stamp, "hs_meeting_title": subject, "hs_meeting_body": body,
                "hs_meeting_start_time": stamp}
    if object_type == "tickets":
        values = {"subject": subject or body[:60], "content": body, "hs_pipeline": "0",
                  "hs_pipeline_stage": TICKET_STATUS.get(str(metadata.get("status", "open")).lower(), "1")}
        if metadata.get("priority"):
            values["hs_ticket_priority"] = TICKET_PRIORITY.get(str(metadata["priority"]).lower(), "MEDIUM")
        return values
    if object_type == "communications":
        return {"hs_timestamp": stamp, "hs_communication_channel_type": str(metadata.get("channel") or "WHATS_APP"),
                "hs_communication_logged_from": "CRM", "hs_communication_body": body}
    if object_type == "feedback_submissions":
        return _survey_values(metadata, body, stamp, contact_id)
    text = f"{subject}\n{body}".strip() if subject else body
    return {"hs_timestamp": stamp, "hs_note_body": text}


def _survey_values(metadata: Mapping[str, Any], body: str, stamp: str, contact_id: str) -> dict[str, Any]:
    survey_type = "NPS" if "nps" in metadata else "CSAT" if "csat" in metadata else "CUSTOM"
    score = metadata.get("nps", metadata.get("csat", metadata.get("score")))
    values: dict[str, Any] = {"hs_survey_type": survey_type, "hs_survey_name": f"{survey_type} survey",
                              "hs_survey_channel": "EMAIL", "hs_content": body, "hs_submission_timestamp": stamp,
                              "hs_contact_id": contact_id}
    if score is not None:
        values["hs_value"] = values["hs_response_value"] = str(score)
        if survey_type == "NPS":
            number = float(score)
            values["hs_response_group"] = "PROMOTER" if number >= 9 else "PASSIVE" if number >= 7 else "DETRACTOR"
    return values
