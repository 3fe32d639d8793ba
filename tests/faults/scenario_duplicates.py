"""Scenario 1: duplicate storm and out-of-order deliveries.

Every webhook the CRM sends is delivered three times, all copies shuffled. Each contact must be
written exactly once, with the values of its final CRM state. Then one contact changes twice and the
newer notice arrives before the older one: the older one must not move a field backwards (the worker
reads the current CRM state, so it finds nothing to write).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .world import World, scenario_world

COPIES = 3


def run(platform: str, directory: Path, contacts: int = 30, seed: int = 11) -> Row:
    row = Row("1 duplicate storm + out-of-order", platform)
    with scenario_world(row, platform, directory, demo_records(contacts)) as world:
        ids = world.contact_ids()
        deliveries = world.capture(lambda: world.sandbox.emit_contact_changes(ids))
        storm = [d for d in deliveries for _ in range(COPIES)]
        random.Random(seed).shuffle(storm)
        row.sent = world.deliver(storm)
        world.drain(until=lambda: world.idle() and len(world.writes.writes) >= len(ids))
        world.drain()
        check = check_contacts(world, ids)
        crm_writes = {c: len(world.writes.of(c)) for c in ids}
        once = sum(1 for n in crm_writes.values() if n == 1)

        # out of order: two real changes to one contact, the newer notice delivered first
        target = ids[0]
        exchange_id = _exchange_id(world, target)
        older = world.capture(lambda: world.sandbox.add_interaction(_email(exchange_id, "older", 2)))
        newer = world.capture(lambda: world.sandbox.add_interaction(_email(exchange_id, "newer", 1)))
        row.sent += world.deliver(newer)
        world.drain()
        after_newer = world.writes.of(target)
        row.sent += world.deliver(older)
        world.drain()
        after_older = world.writes.of(target)
        final = check_contacts(world, [target])
        backwards = len(after_older) != len(after_newer)

        row.applied = len(check.applied)
        row.lost = len(check.lost) + len(final.lost)
        row.duplicates = world.writes.duplicates(crm_writes)
        row.ok = (row.lost == 0 and row.duplicates == 0 and once == len(ids) and not backwards
                  and len(after_newer) in (1, 2))
        row.detail = (f"{len(deliveries)} deliveries x{COPIES} shuffled; {once}/{len(ids)} contacts written once; "
                      f"late older notice wrote {len(after_older) - len(after_newer)} time(s)")
        if check.lost or final.lost:
            row.detail += f"; lost: {dict(list({**check.lost, **final.lost}.items())[:2])}"
    return row


def _exchange_id(world: World, native_id: str) -> str:
    for record in demo_records(len(world.contact_ids())):
        if record.get("record") == "contact" and world.sandbox.native_contact_id(record["contact_id"]) == native_id:
            return str(record["contact_id"])
    raise LookupError(native_id)


def _email(exchange_contact_id: str, label: str, days_ago: int) -> dict[str, object]:
    return {"record": "interaction", "contact_id": exchange_contact_id, "id": f"ooo-{label}", "kind": "email",
            "direction": "inbound", "author": "customer",
            "occurred_at": (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
            "subject": "Still broken", "body": "The export keeps failing and nobody answers. I am really frustrated "
                                               "and thinking about cancelling."}
