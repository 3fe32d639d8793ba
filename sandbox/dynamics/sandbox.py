"""Dynamics 365 / Dataverse sandbox: Web API v9.2 subset, Entra token endpoint, webhook steps.

Two servers: the org's Web API over plain HTTP (``sandbox.server.ServerThread``) and the Entra
login over HTTPS (``auth``), because msal only accepts https authorities. Webhooks go
out exactly as registered in ``serviceendpoints`` / ``sdkmessageprocessingsteps`` (by the
adapter's install or by ``subscribe``): asynchronous steps through a sender that retries once on
502/503/504 only, synchronous steps inline, failing (and rolling back) the operation on non-2xx.
"""

from __future__ import annotations

import json
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask

from ..base import SandboxCRM
from ..sender import WebhookSender
from .api import DataverseOrg, create_app, now_iso
from .auth import EntraDirectory, TLSServerThread
from .schema import BY_LOGICAL, REQUIRED_ATTENDEE, SENDER, TO_RECIPIENT
from .webhooks import entity, execution_context

WEBHOOK_KEY, HTTP_HEADER = 4, 5  # serviceendpoint.authtype
ASYNC_RETRY_STATUSES = (502, 503, 504)  # powerapps-docs use-webhooks: the only ones retried, once
_STAGE_BY_DEAL = {"appointmentscheduled": 0, "qualifiedtobuy": 0, "presentationscheduled": 1,
                  "decisionmakerboughtin": 2, "contractsent": 3}
_NS = uuid.UUID("0f1d2c3b-4a59-4687-9a0b-cdef01234567")


def _iso(value: Any) -> str | None:
    if not value:
        return None
    text = str(value)
    return text if "T" in text else f"{text}T00:00:00Z"


class DynamicsSandbox(SandboxCRM):
    platform = "dynamics"

    def __init__(self, *, time_scale: float = 0.001, requests_per_window: int = 6000, window_seconds: float = 300,
                 max_concurrent: int = 52, token_lifetime: int = 3599) -> None:
        self.tenant_id = str(uuid.uuid4())
        self.client_id = str(uuid.uuid4())
        self.client_secret = "sandbox-secret-" + uuid.uuid4().hex
        self.rep_user_id = str(uuid.uuid4())  # "a person in the UI" for seeded data and emitted changes
        self.directory = EntraDirectory(self.tenant_id, apps={self.client_id: self.client_secret},
                                        token_lifetime=token_lifetime)
        self.org = DataverseOrg(organization_id=str(uuid.uuid4()), organization_name="cemsandbox",
                                directory=self.directory, application_user_id=str(uuid.uuid4()),
                                requests_per_window=requests_per_window, window_seconds=window_seconds,
                                max_concurrent=max_concurrent)
        self.org.on_change = self._on_change
        self._login: TLSServerThread | None = None
        self._seeded: list[str] = []
        self._session = requests.Session()
        self._session.trust_env = False  # loopback only, never through a proxy
        self.sync_deliveries: list[tuple[str, int | None]] = []  # (url, status) of synchronous steps
        self._sync_lock = threading.Lock()
        super().__init__(time_scale=time_scale)

    # -- servers ---------------------------------------------------------------------------
    def create_app(self) -> Flask:
        return create_app(self.org, self.calls)

    def make_sender(self) -> WebhookSender:
        # One retry, only for 502/503/504; the delay is not documented, 5 s is our choice.
        return WebhookSender(lambda url, body: {}, retry_delays=[5.0], jitter=0.0, time_scale=self.time_scale,
                             should_retry=lambda attempt, status: status in ASYNC_RETRY_STATUSES, timeout=60.0)

    def start(self, port: int = 0) -> str:
        url = super().start(port)
        self.org.base_url = url
        self.directory.known_resources.add(url)
        self._login = TLSServerThread(self.directory).start()
        return url

    def stop(self) -> None:
        super().stop()
        if self._login:
            self._login.stop()
            self._login = None

    def connection_settings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        assert self._login, "sandbox not started"
        settings = {
            "org_url": self.url, "tenant_id": self.tenant_id, "client_id": self.client_id,
            "authority_host": self._login.url, "ca_bundle": self._login.cert_file,
            "organization_id": self.org.organization_id, "application_user_id": self.org.application_user_id,
            "prefix": "cem", "solution_unique_name": "cemconnector", "publisher_unique_name": "cemconnector",
        }
        return settings, {"client_secret": self.client_secret}

    # -- data ------------------------------------------------------------------------------
    def native_contact_id(self, exchange_contact_id: str) -> str:
        return str(uuid.uuid5(_NS, f"contact:{exchange_contact_id}"))

    def contact_ids(self) -> list[str]:
        return list(self._seeded)

    def contact_record(self, contact_id: str) -> dict[str, Any]:
        row = self.org.get("contacts", contact_id)
        if row is None:
            raise KeyError(contact_id)
        return row

    def seed_contact(self, record: Mapping[str, Any]) -> str:
        contact_id = self.native_contact_id(str(record["contact_id"]))
        first = str(record.get("first_name") or "Contact")
        last = str(record.get("last_name") or record["contact_id"])
        values = {"firstname": first, "lastname": last, "fullname": f"{first} {last}",
                  "emailaddress1": record.get("email") or f"{record['contact_id']}@example.com"}
        if record.get("company"):
            values["_parentcustomerid_value"] = self._named("accounts", "name", str(record["company"]))
        if record.get("owner"):
            values["_ownerid_value"] = self._named("systemusers", "fullname", str(record["owner"]))
        self.org.insert("contacts", values, user_id=self.rep_user_id, notify=False, record_id=contact_id)
        if record.get("created"):
            self.org.rows["contacts"][contact_id]["createdon"] = _iso(record["created"])
        self._seeded.append(contact_id)
        return contact_id

    def _named(self, entity_set: str, name_column: str, name: str) -> str:
        """The id of the account / user called ``name``, inserted on first use."""
        with self.org.lock:
            for record_id, row in self.org.rows[entity_set].items():
                if row.get(name_column) == name:
                    return record_id
        return self.org.insert(entity_set, {name_column: name}, user_id=self.rep_user_id, notify=False)

    def seed_deal(self, record: Mapping[str, Any]) -> str:
        stage = str(record.get("stage", "qualifiedtobuy"))
        values: dict[str, Any] = {
            "name": record.get("name") or f"Opportunity {record.get('id')}",
            "estimatedvalue": record.get("amount"),
            "_parentcontactid_value": self.native_contact_id(str(record["contact_id"])),
            "statecode": 1 if stage == "closedwon" else 2 if stage == "closedlost" else 0,
            "salesstage": _STAGE_BY_DEAL.get(stage, 3),
            "estimatedclosedate": _iso(record.get("close_date")),
        }
        if stage in ("closedwon", "closedlost"):
            values["actualclosedate"] = _iso(record.get("close_date"))
        record_id = self.org.insert("opportunities", values, user_id=self.rep_user_id, notify=False,
                                    record_id=str(uuid.uuid5(_NS, f"deal:{record.get('id')}")))
        if record.get("created"):
            self.org.rows["opportunities"][record_id]["createdon"] = _iso(record["created"])
        return record_id

    def add_interaction(self, record: Mapping[str, Any], *, notify: bool = True) -> str:
        contact_id = self.native_contact_id(str(record["contact_id"]))
        occurred = _iso(record.get("occurred_at")) or now_iso()
        kind, direction = str(record.get("kind", "note")), str(record.get("direction", "inbound"))
        subject, body = str(record.get("subject") or ""), str(record.get("body") or "")
        entity_set, values, parties = self._native_interaction(kind, direction, contact_id, subject, body, occurred)
        record_id = str(uuid.uuid5(_NS, f"interaction:{record.get('id') or uuid.uuid4()}"))
        self.org.insert(entity_set, values, user_id=self.rep_user_id, notify=False, record_id=record_id)
        self.org.rows[entity_set][record_id]["createdon"] = occurred
        for party in parties:
            self.org.insert("activityparties", {"_activityid_value": record_id, **party}, user_id=self.rep_user_id,
                            notify=False)
        if notify:
            self._on_change(BY_LOGICAL_SET[entity_set], "Create", record_id, dict(values), self.rep_user_id, False)
        return record_id

    @staticmethod
    def _native_interaction(kind: str, direction: str, contact_id: str, subject: str, body: str,
                            occurred: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """Exchange kinds onto Dataverse tables; chat, form and survey arrive as inbound emails
        (the base Dataverse schema has no table for them)."""
        inbound = direction == "inbound"
        if kind in ("email", "chat", "form", "survey"):
            mask = SENDER if inbound else TO_RECIPIENT
            return "emails", {"subject": subject or kind.capitalize(), "description": body,
                              "directioncode": not inbound, "actualend": occurred, "senton": occurred,
                              "_regardingobjectid_value": contact_id}, [
                {"_partyid_value": contact_id, "participationtypemask": mask}]
        if kind == "call":
            return "phonecalls", {"subject": subject or "Call", "description": body, "directioncode": not inbound,
                                  "actualend": occurred, "_regardingobjectid_value": contact_id}, [
                {"_partyid_value": contact_id, "participationtypemask": SENDER if inbound else TO_RECIPIENT}]
        if kind == "meeting":
            return "appointments", {"subject": subject or "Meeting", "description": body,
                                    "scheduledstart": occurred, "scheduledend": occurred,
                                    "_regardingobjectid_value": contact_id}, [
                {"_partyid_value": contact_id, "participationtypemask": REQUIRED_ATTENDEE}]
        if kind == "ticket":
            return "incidents", {"title": subject or "Case", "description": body,
                                 "ticketnumber": f"CAS-{uuid.uuid4().hex[:5].upper()}",
                                 "_customerid_value": contact_id, "caseorigincode": 2}, []
        return "annotations", {"subject": subject, "notetext": body, "_objectid_value": contact_id,
                               "objecttypecode": "contact", "isdocument": False}, []

    # -- webhooks --------------------------------------------------------------------------
    def subscribe(self, url: str, secret: str) -> None:
        """Register a webhook (WebhookKey auth) with async Create/Update steps, as an admin would
        with the Plug-in Registration Tool; an existing endpoint with the same URL is updated."""
        super().subscribe(url, secret)
        org = self.org
        existing = next((e for e in org.rows["serviceendpoints"].values() if e.get("url") == url), None)
        if existing:
            existing.update({"authtype": WEBHOOK_KEY, "authvalue": secret})
            return
        endpoint_id = org.insert("serviceendpoints", {"name": "CEM connector", "url": url, "contract": 8,
                                                      "authtype": WEBHOOK_KEY, "authvalue": secret,
                                                      "messageformat": 2}, user_id=self.rep_user_id, notify=False)
        messages = {r["name"]: r["sdkmessageid"] for r in org.rows["sdkmessages"].values()}
        steps = [(t, m) for t in ("contact", "email", "phonecall", "appointment", "annotation", "incident",
                                  "opportunity") for m in ("Create", "Update")] + [("contact", "Delete")]
        for table, message in steps:
            filter_id = next(f["sdkmessagefilterid"] for f in org.rows["sdkmessagefilters"].values()
                             if f["primaryobjecttypecode"] == table
                             and f["_sdkmessageid_value"] == messages[message])
            filtering = "firstname,lastname,emailaddress1" if (table, message) == ("contact", "Update") else None
            org.insert("sdkmessageprocessingsteps", {
                "name": f"CEM: {table} {message}", "mode": 1, "stage": 40, "rank": 1, "asyncautodelete": True,
                "supporteddeployment": 0, "filteringattributes": filtering, "_eventhandler_value": endpoint_id,
                "_sdkmessageid_value": messages[message], "_sdkmessagefilterid_value": filter_id,
            }, user_id=self.rep_user_id, notify=False)

    def emit_deletion(self, contact_id: str) -> int:
        """A rep deletes the contact in Dynamics; the Delete step posts its RemoteExecutionContext."""
        before = len(self.sender.deliveries) + len(self.sync_deliveries)
        self.org.delete("contacts", contact_id, user_id=self.rep_user_id)
        return len(self.sender.deliveries) + len(self.sync_deliveries) - before

    def emit_contact_changes(self, contact_ids: Iterable[str]) -> int:
        """A rep edits each contact's name (same value: Dataverse still runs Update steps)."""
        before = len(self.sender.deliveries) + len(self.sync_deliveries)
        for contact_id in contact_ids:
            row = self.contact_record(contact_id)
            self.org.update("contacts", contact_id, {"firstname": row.get("firstname")}, user_id=self.rep_user_id)
        return len(self.sender.deliveries) + len(self.sync_deliveries) - before

    def _matching_steps(self, logical_name: str, message: str, changed: Mapping[str, Any]) -> list[dict[str, Any]]:
        org = self.org
        message_ids = {r["sdkmessageid"] for r in org.rows["sdkmessages"].values() if r["name"] == message}
        filters = {f["sdkmessagefilterid"] for f in org.rows["sdkmessagefilters"].values()
                   if f["primaryobjecttypecode"] == logical_name and f["_sdkmessageid_value"] in message_ids}
        steps = []
        for step in list(org.rows["sdkmessageprocessingsteps"].values()):
            if step.get("_sdkmessagefilterid_value") not in filters or step.get("statecode", 0) != 0:
                continue
            filtering = {a.strip() for a in str(step.get("filteringattributes") or "").split(",") if a.strip()}
            if message == "Update" and filtering and not filtering & set(changed):
                continue  # filtering attributes: the step only runs when one of them is in the update
            steps.append(step)
        return sorted(steps, key=lambda s: int(s.get("rank") or 1))

    def _on_change(self, logical_name: str, message: str, record_id: str, changed: dict[str, Any], user_id: str,
                   _sync_hint: bool) -> str | None:
        steps = self._matching_steps(logical_name, message, changed)
        if not steps:
            return None
        table = BY_LOGICAL[logical_name]
        row = self.org.get(table.entity_set, record_id) or {}
        custom = {k: v["AttributeType"] for k, v in self.org.attributes.items()}
        parties = self.org.parties(record_id) if table.activity else []
        target = entity(logical_name, record_id, changed if message == "Update" else row, custom,
                        parties if message == "Create" else None)
        post_image = entity(logical_name, record_id, row, custom, parties)
        correlation = str(uuid.uuid4())
        for step in steps:
            endpoint = self.org.rows["serviceendpoints"].get(str(step.get("_eventhandler_value")))
            if endpoint is None:
                continue
            context = execution_context(message=message, logical_name=logical_name, record_id=record_id,
                                        target=target, post_image=post_image, step=step, org=self.org,
                                        user_id=user_id, correlation_id=correlation, occurred=datetime.now(UTC))
            body = json.dumps(context).encode()
            url, headers = self._authenticated(endpoint)
            headers.update({
                "x-request-id": str(uuid.uuid4()),
                "x-ms-dynamics-organization": urlsplit(self.org.base_url).hostname or "",  # a host name, no port
                "x-ms-dynamics-entity-name": logical_name,
                "x-ms-dynamics-request-name": message,
                "x-ms-correlation-request-id": correlation,
            })
            if int(step.get("mode", 1)) == 1:
                self.sender.send(url, body, "application/json", headers)
                continue
            error = self._deliver_sync(url, body, headers)
            if error:
                return error
        return None

    def _authenticated(self, endpoint: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        url, secret = str(endpoint["url"]), str(endpoint.get("authvalue") or "")
        if int(endpoint.get("authtype", WEBHOOK_KEY)) == HTTP_HEADER:
            # <settings><setting name="x" value="y" /></settings>, as the registration tool stores it
            root = ET.fromstring(secret)
            return url, {s.get("name", ""): s.get("value", "") for s in root.iter("setting")}
        separator = "&" if "?" in url else "?"
        return f"{url}{separator}code={requests.utils.quote(secret, safe='')}", {}

    def _deliver_sync(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        try:
            response = self._session.post(url, data=body, timeout=60,
                                          headers={"Content-Type": "application/json", **headers})
            status: int | None = response.status_code
        except requests.RequestException:
            status = None
        with self._sync_lock:
            self.sync_deliveries.append((url, status))
        if status is None or not 200 <= status < 300:
            return f"The synchronous webhook step failed (HTTP {status}); the operation was rolled back."
        return None


BY_LOGICAL_SET = {t.entity_set: t.logical_name for t in BY_LOGICAL.values()}
