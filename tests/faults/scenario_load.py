"""Scenario 10: load. The CRM's own sender fires N webhook events as fast as it can while two worker
processes run; every event must be accepted, the queue must drain, and every contact must end up
with its values, written once.
"""

from __future__ import annotations

import time
from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, score
from .world import scenario_world

WORKERS = 2


def run(platform: str, directory: Path, events: int = 1000, contacts: int = 50) -> Row:
    row = Row(f"10 load ({events:,} events)", platform)
    with scenario_world(row, platform, directory, demo_records(contacts)) as world:
        ids = world.contact_ids()
        for _ in range(WORKERS):
            world.spawn_worker()
        first = len(world.sandbox.sender.deliveries)
        sending_started = time.monotonic()
        rounds = 0
        while row.sent < events and rounds < events:  # each round notifies every contact once
            batch = ids[: min(len(ids), events - row.sent)]
            row.sent += world.sandbox.emit_contact_changes(batch)
            rounds += 1
        world.wait_deliveries(timeout=600)
        send_seconds = time.monotonic() - sending_started
        deliveries = world.sandbox.sender.deliveries[first:]
        undelivered = sum(1 for d in deliveries if not d.delivered)
        # Dataverse's 6,000 requests / 5 min limit can make the connector wait out Retry-After (~4 min) at 10k
        world.drain(timeout=max(300.0, events * 0.12), inline=False,
                    until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        drain_seconds = time.monotonic() - sending_started
        world.drain(timeout=60, inline=False)
        score(row, world, ids)
        row.lost += undelivered
        depth = world.runtime.queue.depth()
        row.ok = row.lost == 0 and row.duplicates == 0 and depth["queued"] == 0 and depth["started"] == 0
        row.figures = {"events_per_second_in": round(row.sent / send_seconds, 1),
                       "seconds_to_drain": round(drain_seconds, 1), "deliveries": len(deliveries),
                       "workers": WORKERS}
        row.detail = (f"{len(deliveries)} deliveries accepted at {row.figures['events_per_second_in']} events/s; "
                      f"queue drained and {contacts} contacts written {drain_seconds:.1f}s after the first event "
                      f"({WORKERS} workers)")
    return row
