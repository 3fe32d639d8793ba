"""Scenario 13.1: two refreshes of one contact race; the older read must not win.

Two worker processes. A customer asks a question; refresh A reads their history, then waits on the
CRM (its deals read answers 4 s late, as a 429 waited out in place would). Meanwhile the customer
sends a cancellation: refresh B (the pending flag was cleared when A started, so B is queued) reads everything,
including the email, and its result is written. Then A finishes with the history it read before the
email. Committing A last would put the stale values back on the record (and write the contact a
second time). Only an analysis of a newer read may replace the stored one.
"""

from __future__ import annotations

import time
from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .story import first_sync, send_email
from .world import scenario_world

# the deals read each adapter makes after it has read the interactions
DEALS_READ = {"hubspot": "/associations/contacts/deals/batch/read", "salesforce": "OpportunityContactRole",
              "dynamics": "/opportunities"}
STALL = 4.0


def run(platform: str, directory: Path, contacts: int = 4) -> Row:
    row = Row("13.1 two refreshes race (stale read last)", platform)
    records = demo_records(contacts)
    with scenario_world(row, platform, directory, records) as world:
        row.sent = first_sync(world)
        world.runtime.redis.set(world.runtime.queue.keys.data_marker, "faults")  # no start-up reconcile
        for _ in range(2):
            world.spawn_worker()
        time.sleep(2.0)
        exchange_id = next(r["contact_id"] for r in records if r.get("record") == "contact")
        target = world.sandbox.native_contact_id(exchange_id)
        before = len(world.writes.of(target))
        world.faults.slow_once(DEALS_READ[platform], STALL)
        row.sent += send_email(world, exchange_id, "question", QUESTION)  # refresh A
        if not world.faults.slowed.wait(timeout=30):
            raise TimeoutError("refresh A never reached its deals read")
        row.sent += send_email(world, exchange_id, "cancel")  # refresh B
        time.sleep(STALL + 1.0)
        world.drain(timeout=60, inline=False)
        check = check_contacts(world, [target])
        writes = len(world.writes.of(target)) - before
        row.applied = len(check.applied)
        row.lost = len(check.lost)
        row.duplicates = max(0, writes - 1) + world.writes.noop_writes()
        row.ok = row.lost == 0 and row.duplicates == 0 and writes == 1
        row.detail = f"{writes} write(s) of the contact after the race (want 1, with the email counted)"
        if check.lost:
            row.detail += f"; on the record: {next(iter(check.lost.values()))[:100]}"
    return row


QUESTION = "Quick question: where do I find the export settings? Thanks."
