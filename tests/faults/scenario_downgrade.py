"""Scenario 13.9: a captured HubSpot delivery replayed with its v3 headers stripped.

HubSpot signs app webhooks twice: ``X-HubSpot-Signature-v3`` (HMAC over method, URL, body and a
timestamp, 5-minute window) and the legacy ``X-HubSpot-Signature`` v1 (SHA-256 of secret + body, no
timestamp). An attacker who captured one delivery can strip the v3 headers and send the body again
with the v1 header any time later; once dedupe has forgotten the ids (SEEN_DAYS), it is processed
again. A connection whose app has signed with v3 must refuse v1/v2 from then on (401), while an
app that only ever sent v1 keeps working.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from sandbox.dataset import demo_records
from sandbox.hubspot.webhooks import signature_v1

from .outcome import Row
from .webhook_http import post, real_delivery_body
from .world import World, scenario_world


def run(platform: str, directory: Path) -> Row:
    row = Row("13.9 HubSpot v1 replay after v3 (downgrade)", platform)
    with scenario_world(row, platform, directory, demo_records(3)) as world:
        legacy = _v1_only(world, real_delivery_body(world, world.contact_ids()[1]))  # before any v3: an older app
        body = real_delivery_body(world)
        first = post(world, body)  # as HubSpot sends it: v3 (the sandbox adds v1 too; v3 wins)
        world.drain()
        world.runtime.redis.delete(f"{world.runtime.queue.prefix}seen:{world.connection_id}")  # days later
        world.app.extensions["cem_targets"].clear()  # the 5 s secret cache, so the test need not wait
        replay = _v1_only(world, body)
        queued = _new(replay.text)
        row.sent = 3
        row.applied = int(first.status == 200) + int(legacy.status_code == 200)
        row.duplicates = queued or 0  # events of the replayed delivery queued a second time
        row.ok = legacy.status_code == 200 and first.status == 200 and replay.status_code == 401
        row.detail = (f"v1-only before any v3 {legacy.status_code}; v3 delivery {first.status}; "
                      f"same body with v3 stripped (v1 only) {replay.status_code}, {queued} events queued again")
        if replay.status_code == 401:
            row.detail += f": {json.loads(replay.text).get('error', '')[:120]}"
    return row


def _v1_only(world: World, body: bytes) -> requests.Response:
    headers = {"Content-Type": "application/json", "X-HubSpot-Signature": signature_v1(world.secret, body),
               "X-HubSpot-Signature-Version": "v1"}
    with requests.Session() as session:
        session.trust_env = False
        return session.post(world.webhook_url, data=body, headers=headers, timeout=10)


def _new(text: str) -> int | None:
    try:
        return int(json.loads(text).get("new", 0))
    except (ValueError, AttributeError):
        return None
