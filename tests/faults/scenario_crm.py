"""Scenario 4: the CRM throttles, fails and is slow.

Phase 1: every API call is slow and the next calls are throttled (HubSpot / Dataverse: 429 with
Retry-After; Salesforce: 403 REQUEST_LIMIT_EXCEEDED, which carries no Retry-After) and then fail with
5xx: everything is applied, and no call comes sooner than the Retry-After the CRM asked for.
Phase 2: the CRM refuses writes (503) for longer than the retry budget (CEM_MAX_ATTEMPTS=3): the
writes are dead-lettered, nothing is written; once the CRM is back `cem-connector replay` applies it, once.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, check_contacts, score
from .world import scenario_world

RETRY_AFTER = 2.0
MAX_ATTEMPTS = 3
OUTAGE_CONTACTS = 5


def run(platform: str, directory: Path, contacts: int = 30) -> Row:
    row = Row("4 CRM 429/5xx/slow, dead-letter, replay", platform)
    with scenario_world(row, platform, directory, demo_records(contacts), max_attempts=MAX_ATTEMPTS) as world:
        ids = world.contact_ids()
        flaky, outage = ids[:-OUTAGE_CONTACTS], ids[-OUTAGE_CONTACTS:]
        faults = world.faults

        # phase 1: slow + throttled + 5xx, within the retry budget
        retry_after = None if platform == "salesforce" else RETRY_AFTER
        faults.latency = 0.05
        faults.fail_next(1, faults.throttle_status(), retry_after)  # one of each: within a 3-attempt budget
        faults.fail_next(1, 500)
        row.sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(flaky)))
        world.drain(timeout=120, until=lambda: world.idle() and all(world.writes.of(c) for c in flaky))
        waited = faults.shortest_wait_after_throttle()
        faults.latency = 0.0
        phase1 = check_contacts(world, flaky)

        # phase 2: the CRM refuses writes for longer than the retry budget -> dead letters -> replay
        faults.set_down(503, writes_only=True)
        row.sent += world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(outage)))
        world.drain(timeout=120)
        letters = world.dead_letters()
        written_while_down = sum(1 for c in outage if world.writes.of(c))
        faults.set_down(None)
        replay = world.cli("replay")
        world.drain(timeout=120, until=lambda: world.idle() and all(world.writes.of(c) for c in outage))
        world.drain(timeout=30)

        score(row, world, ids)
        honoured = retry_after is None or (waited is not None and waited >= retry_after * 0.95)
        row.ok = (row.lost == 0 and row.duplicates == 0 and not phase1.lost and honoured and letters > 0
                  and written_while_down == 0 and replay.returncode == 0)
        throttle = "403 REQUEST_LIMIT_EXCEEDED" if platform == "salesforce" else "429"
        row.detail = (f"{throttle} + 500 + slow: {len(phase1.applied)}/{len(flaky)} applied, "
                      + (f"next call {round(waited or 0, 2)}s after Retry-After {retry_after}s"
                         if retry_after else "no Retry-After: exponential backoff")
                      + f"; outage: {letters} dead letters, replay exit {replay.returncode}")
        row.figures = {"retry_after_wait": waited, "dead_letters": letters}
    return row
