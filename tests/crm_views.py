"""Shared by the record-view tests: a real engine profile stored for a contact, and signed card requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from cem_engine.engine import analyze
from cem_engine.exchange import read_records
from connector.runtime import Runtime
from connector.store import ContactState

# An onboarding customer who is lost in the admin area: the engine finds onboarding_confusion with a quote.
SCENARIO: list[dict] = [
    {"record": "contact", "contact_id": "C", "lifecycle_stage": "customer", "created": "2026-03-10"},
    {"record": "deal", "contact_id": "C", "id": "d1", "name": "Team plan", "stage": "closedwon",
     "type": "new_business", "amount": 6000, "created": "2026-04-01", "close_date": "2026-05-01"},
    {"record": "interaction", "contact_id": "C", "id": "i1", "kind": "email", "direction": "outbound",
     "occurred_at": "2026-05-02T09:00:00Z", "subject": "Welcome aboard",
     "body": "Hi Jo, welcome! Here is your onboarding guide."},
    {"record": "interaction", "contact_id": "C", "id": "i2", "kind": "email", "direction": "inbound",
     "occurred_at": "2026-05-09T14:20:00Z", "subject": "Re: Welcome aboard",
     "body": "We're a week in and I'm honestly lost in the admin area. Which of the three permission screens "
             "gives managers access? The setup guide skips this part."},
    {"record": "interaction", "contact_id": "C", "id": "i3", "kind": "chat", "direction": "inbound",
     "occurred_at": "2026-05-19T10:05:00Z", "subject": "Chat",
     "body": "The CSV import keeps rejecting our file and the error doesn't say which column. I don't "
             "understand what format the import wizard wants."},
]
NOW = datetime(2026, 5, 25, tzinfo=UTC)


def store_profile(rt: Runtime, connection_id: int, contact_id: str) -> dict:
    """Analyse SCENARIO as ``contact_id`` and store the profile the way the worker does."""
    (data,) = read_records(json.dumps({**record, "contact_id": contact_id}) for record in SCENARIO)
    profile = analyze(data, now=NOW).to_dict()
    with rt.store.session() as session:
        session.merge(ContactState(connection_id=connection_id, contact_id=contact_id, profile=profile,
                                   desired={}, analyzed_at=NOW))
    return profile


def hubspot_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    """The headers HubSpot puts on a hubspot.fetch() request (request-validation guide, v3)."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), method.encode() + url.encode() + body + timestamp.encode(),
                      hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": timestamp}


def salesforce_signature(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """What the generated Apex (CemConnector.send) puts on its callouts."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-CEM-Signature": f"t={ts},v1={mac}"}
