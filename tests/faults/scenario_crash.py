"""Scenario 2: a worker is killed with SIGKILL in the middle of a batch write, then restarted.

The worker runs as its own process (``python -m connector.cli worker``). The CRM is slowed down so
the batch write is still in flight when the kill lands. A new worker is then started; every contact
must end up with its values, and no contact may be written twice.
"""

from __future__ import annotations

import time
from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, score
from .world import scenario_world


def run(platform: str, directory: Path, contacts: int = 30, recovery_timeout: float = 90.0) -> Row:
    row = Row("2 worker SIGKILL mid-batch", platform)
    with scenario_world(row, platform, directory, demo_records(contacts)) as world:
        ids = world.contact_ids()
        world.faults.write_latency = 1.0  # slow batch writes: the kill lands while one is in flight
        first = world.spawn_worker()
        row.sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(ids)))
        if not world.faults.write_started.wait(timeout=60):
            row.detail = "the worker never reached the batch write"
            return row
        world.kill_worker(first)
        killed_at = time.monotonic()
        writes_before_restart = world.writes.total()
        world.faults.write_latency = 0.0
        world.spawn_worker()
        recovery = world.drain(timeout=recovery_timeout, inline=False,
                               until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        world.drain(timeout=30, inline=False)
        check = score(row, world, ids)
        row.ok = row.lost == 0 and row.duplicates == 0
        row.figures = {"recovery_seconds": round(time.monotonic() - killed_at, 1)}
        row.detail = (f"killed during a batch write ({writes_before_restart} contact writes had reached the CRM); "
                      f"recovered in {row.figures['recovery_seconds']}s (drain {recovery:.1f}s)")
        if check.lost:
            row.detail += f"; lost e.g. {next(iter(check.lost.items()))}"
    return row
