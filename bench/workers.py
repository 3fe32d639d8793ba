"""Worker throughput on single-event deliveries (Dataverse sends one record per request), one worker
process against two, side by side on the same machine.

Each run: a whole loopback connector (``tests.faults.world.World``, HubSpot sandbox with its limits
opened wide), N single-event deliveries accepted onto the queue while the workers are suspended, then
K ``cem-connector worker`` processes resumed together; the clock runs from resume until the queue is
empty and every contact is written. Events per second per run, and the 2-worker / 1-worker ratio.

    python -m bench.workers [--events N] [--contacts N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rq import Worker
from rq.suspension import resume, suspend

from sandbox.dataset import demo_records
from tests.faults.world import World
from webhooks.events import CONTACT_CHANGED, ChangeEvent

WIDE_OPEN = {"rate_limit": 1_000_000}
DRAIN_SECONDS = 240.0


def run(workers: int, events: int, contacts: int) -> tuple[float, int]:
    """(events per second, contacts written) with ``workers`` worker processes."""
    directory = Path(tempfile.mkdtemp(prefix=f"cem-bench-workers-{workers}-"))
    world = World("hubspot", directory, demo_records(contacts), sandbox_options=WIDE_OPEN)
    try:
        ids = world.contact_ids()
        queue = world.runtime.queue
        suspend(world.runtime.redis)
        now = datetime.now(UTC)
        for n in range(events):
            queue.deliveries.accept(world.connection_id, [ChangeEvent(
                platform="hubspot", event_id=f"bench:{n}", kind=CONTACT_CHANGED, object_type="contact",
                object_id=ids[n % len(ids)], occurred_at=now, account_id=None)])
        for _ in range(workers):
            world.spawn_worker()
        deadline = time.monotonic() + 60
        while len(Worker.all(queue=queue.rq)) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        resume(world.runtime.redis)
        world.drain(timeout=DRAIN_SECONDS, inline=False,
                    until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        seconds = time.monotonic() - started
        return events / seconds, sum(1 for c in ids if world.writes.of(c))
    finally:
        world.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--contacts", type=int, default=200)
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"Workers: {args.events:,} single-event deliveries over {args.contacts} contacts "
                        "(HubSpot sandbox, loopback)")
    for column in ("worker processes", "events/s", "events/s per worker", "contacts written", "ratio vs 1 worker"):
        table.add_column(column, justify="right")
    results = {}
    for count in (1, 2):
        with console.status(f"{count} worker(s)..."):
            results[count] = run(count, args.events, args.contacts)
    for count, (rate, written) in results.items():
        table.add_row(str(count) + (" (baseline)" if count == 1 else ""), f"{rate:,.0f}", f"{rate / count:,.0f}",
                      f"{written}/{args.contacts}", f"{rate / results[1][0]:.2f}")
    console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
