"""Scenario 7: webhook authentication over real HTTP through the whole web app.

Missing, wrong, stale (and a captured request replayed after the window), far-future and tampered
requests get 401; a replay inside the window is acknowledged but never processed twice (dedupe);
after a secret rotation both secrets are accepted, and after the next rotation the oldest is not.
Outbound messages and Dataverse WebhookKey calls carry no timestamp, so for them "stale" does not
exist; Salesforce's signed JSON endpoint has one and is checked as well.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from connector.connections import rotate_webhook_secret
from sandbox.dataset import demo_records

from .outcome import Row
from .webhook_http import post, real_delivery_body, signed
from .world import World, scenario_world

WINDOW = 300


def run(platform: str, directory: Path) -> Row:
    row = Row("7 signatures (missing/wrong/stale/replay/rotation)", platform)
    with scenario_world(row, platform, directory, demo_records(3)) as world:
        checks: list[tuple[str, int, tuple[int, ...]]] = []

        def expect(name: str, status: int, *wanted: int) -> None:
            checks.append((name, status, wanted))

        body = real_delivery_body(world)
        expect("missing", post(world, body, auth=False).status, 401)
        expect("wrong secret", post(world, body, secret="not-the-secret-" + "x" * 20).status, 401)
        expect("valid", post(world, body).status, 200)
        replay = post(world, body)
        expect("replay inside the window (deduped)", replay.status, 200)
        deduped = _new_count(replay.body)
        if platform == "hubspot":
            expect("stale (a replay 6 minutes later)", post(world, body, timestamp=time.time() - WINDOW - 60).status,
                   401)
            expect("far future", post(world, body, timestamp=time.time() + WINDOW + 60).status, 401)
        json_body = _salesforce_json(world) if platform == "salesforce" else None
        if json_body is not None:
            ctype = "application/json"
            expect("signed JSON valid", post(world, json_body, ctype=ctype).status, 200)
            expect("signed JSON missing", post(world, json_body, ctype=ctype, auth=False).status, 401)
            expect("signed JSON stale", post(world, json_body, ctype=ctype, timestamp=time.time() - WINDOW - 60)
                   .status, 401)
        if platform == "hubspot":
            expect("body changed after signing", _tampered(world, body), 401)
        if json_body is not None:
            expect("signed JSON changed after signing", _tampered(world, json_body, "application/json"), 401)

        old = world.secret
        new = rotate_webhook_secret(world.runtime.store, world.runtime.box, world.connection_id)
        world.app.extensions["cem_targets"].clear()  # the 5 s secret cache, so the test need not wait
        expect("old secret during overlap", post(world, real_delivery_body(world), secret=old).status, 200)
        expect("new secret during overlap", post(world, real_delivery_body(world), secret=new).status, 200)
        rotate_webhook_secret(world.runtime.store, world.runtime.box, world.connection_id)
        world.app.extensions["cem_targets"].clear()
        expect("oldest secret after the next rotation", post(world, real_delivery_body(world), secret=old).status,
               401)

        wrong = [f"{name}: {status} (want {'/'.join(map(str, wanted))})" for name, status, wanted in checks
                 if status not in wanted]
        row.sent = len(checks)
        row.applied = len(checks) - len(wrong)
        row.ok = not wrong and deduped in (0, None)
        row.detail = f"{len(checks)} checks, {len(wrong)} wrong; replay inside the window queued {deduped} new"
        if wrong:
            row.detail += "; " + "; ".join(wrong[:3])
    return row


def _new_count(text: str) -> int | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None  # Salesforce answers with a SOAP Ack, which does not say
    return int(data.get("new", 0)) if isinstance(data, dict) else None


def _tampered(world: World, body: bytes, ctype: str | None = None) -> int:
    """Sign one body, send another with the same authentication (only body signatures can catch it;
    a secret in the URL, as outbound messages and WebhookKey use, covers no body)."""
    url, headers = signed(world, body, ctype=ctype)
    with requests.Session() as session:
        session.trust_env = False
        return session.post(url, data=body.replace(b"1", b"2", 1), headers=headers, timeout=10).status_code


def _salesforce_json(world: World) -> bytes:
    contact = world.contact_ids()[0]
    org = world.sandbox.store.org_id
    return json.dumps({"organizationId": org, "events": [{
        "id": f"evt-{contact}", "object": "Contact", "recordId": contact, "changeType": "UPDATE",
        "commitTimestamp": int(time.time() * 1000), "commitUser": "005000000000001"}]}).encode()
