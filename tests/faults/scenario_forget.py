"""Scenario 13.5: ``forget`` is permanent while the CRM record exists.

After ``cem-connector forget X``, the person's record still exists in the CRM, so the CRM keeps
sending webhooks about them (an email arrives, the rep edits the contact) and reconcile and
backfill keep listing them. None of that may bring them back: no row in the database, no write to
their record, and a journey link issued before ``forget`` answers 404. The connector keeps a
suppression list of forgotten ids, stored only as keyed hashes (HMAC with CEM_SECRET_KEY), which
intake, reconcile and refresh respect until the CRM record itself is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import requests

from sandbox.dataset import demo_records

from .outcome import Row
from .scenario_gdpr import _mentions
from .story import first_sync, send_email
from .world import World, scenario_world


def run(platform: str, directory: Path, contacts: int = 4) -> Row:
    row = Row("13.5 forget stays forgotten", platform)
    records = demo_records(contacts)
    with scenario_world(row, platform, directory, records) as world:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        forgotten = ids[0]
        exchange_id = next(r["contact_id"] for r in records if r.get("record") == "contact"
                           and world.sandbox.native_contact_id(r["contact_id"]) == forgotten)
        link = world.cli("journey-link", forgotten, "--connection", str(world.connection_id)).stdout.strip()
        forget = world.cli("forget", forgotten, "--connection", str(world.connection_id))
        writes_at_forget = len(world.writes.of(forgotten))
        # the CRM keeps talking about the person: an email webhook, a contact change, a reconcile round
        row.sent += send_email(world, exchange_id, "x")
        row.sent += world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes([forgotten])))
        world.drain()
        world.cli("reconcile", "--connection", str(world.connection_id))
        world.drain()
        stored = _mentions(directory, world, forgotten)
        hashed = _hash(world, forgotten)
        stored = [s for s in stored if s != "suppressed_contacts"]  # holds a keyed hash, never the id
        writes_after = len(world.writes.of(forgotten)) - writes_at_forget
        journey = _status(world.server.url + link[link.find("/journey/"):] if "/journey/" in link else "")
        row.applied = len(ids) - 1
        row.lost = int(bool(stored)) + writes_after  # here: data about the person, or writes, after forget
        clear = _in_clear(directory, forgotten, hashed)
        row.ok = (forget.returncode == 0 and not stored and writes_after == 0 and journey in (403, 404)
                  and not clear)
        row.detail = (f"after forget + email webhook + contact webhook + reconcile: stored in "
                      f"{', '.join(stored) or 'nothing'}; {writes_after} write(s) to the record; old journey link "
                      f"{journey}; suppression list holds the id in clear: {clear}")
    return row


def _hash(world: World, contact_id: str) -> str:
    key = world.env["CEM_SECRET_KEY"].encode()
    return hmac.new(key, f"{world.connection_id}:{contact_id}".encode(), hashlib.sha256).hexdigest()


def _in_clear(directory: Path, contact_id: str, _hashed: str) -> bool:
    import sqlite3

    with sqlite3.connect(directory / "cem.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "suppressed_contacts" not in tables:
            return False
        text = " ".join(str(v) for r in db.execute("SELECT * FROM suppressed_contacts") for v in r)
    return contact_id.lower() in text.lower() or contact_id[:15].lower() in text.lower()


def _status(link: str) -> int:
    if not link.startswith("http"):
        return 0
    with requests.Session() as session:
        session.trust_env = False
        return session.get(link, timeout=10).status_code

