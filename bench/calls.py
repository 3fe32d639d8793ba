"""CRM API calls per 1,000 change events over 100 contacts, per CRM, in a burst and at a steady 200 events/s.

Each run is a whole loopback connector (``tests.faults.world.World``: private Redis, the web app, one
worker process, the sandbox CRM with its limits opened wide so calls measure work, not waiting).
The CRM's own sender fires the events; every HTTP call the sandbox answers while they are processed
is counted (reads, writes, token calls). The baseline beside it is the naive cost measured on the same
sandbox: one single-contact read (``fetch_contact``) plus one write call per event. The connector has
read none of the contacts before the first event, so its first round reads them in full; later property
edits of the same contacts are record-only reads (docs/architecture.md, "Record-only refresh").

    python -m bench.calls [--platform NAME ...] [--events N] [--contacts N] [--rate R]

Figures only; the fault suite asserts correctness (none lost, none written twice).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox.dataset import demo_records
from tests.faults import PLATFORMS
from tests.faults.world import World

# Limits opened wide: this row counts calls; bench.budget runs under the real limits.
WIDE_OPEN: dict[str, dict[str, Any]] = {
    "hubspot": {"rate_limit": 1_000_000},
    "salesforce": {"daily_limit": 10_000_000},
    "dynamics": {"requests_per_window": 10_000_000},
}
DRAIN_SECONDS = 180.0  # bound on waiting for the queue to empty after the last event


@dataclass
class CallsRow:
    platform: str
    mode: str
    events: int
    calls: int
    naive: int
    seconds: float
    written: int
    contacts: int

    @property
    def per_1000(self) -> float:
        return self.calls * 1000 / max(1, self.events)

    @property
    def naive_per_1000(self) -> float:
        return self.naive * 1000 / max(1, self.events)


def naive_calls_per_event(world: World, contact_id: str) -> int:
    """One single-contact read plus one write call, measured on this sandbox."""
    adapter = world.adapter
    before = len(world.sandbox.calls)
    adapter.fetch_contact(contact_id)
    return len(world.sandbox.calls) - before + 1


def run(platform: str, mode: str, *, events: int = 1000, contacts: int = 100, rate: float = 200.0) -> CallsRow:
    directory = Path(tempfile.mkdtemp(prefix=f"cem-bench-calls-{platform}-"))
    world = World(platform, directory, demo_records(contacts), sandbox_options=WIDE_OPEN[platform])
    try:
        ids = world.contact_ids()
        naive = naive_calls_per_event(world, ids[0])
        # A worker that finds a new Redis reconciles every connection first (connector.worker: data marker):
        # ~10 searches plus a full read of recently modified contacts, which the events did not cause.
        world.runtime.redis.set(world.runtime.queue.keys.data_marker, "bench")
        world.spawn_worker()
        time.sleep(1.0)  # the worker process imports and connects before the first event
        first_call = len(world.sandbox.calls)
        started = time.monotonic()
        sent = 0
        if mode == "burst":
            while sent < events:  # each round notifies every contact once
                sent += world.sandbox.emit_contact_changes(ids[: min(len(ids), events - sent)])
        else:
            step = max(1, int(rate / 10))  # ten sends a second, `step` events each
            position = 0
            tick = started
            while sent < events:
                batch = [ids[(position + i) % len(ids)] for i in range(min(step, events - sent))]
                position += len(batch)
                sent += world.sandbox.emit_contact_changes(batch)
                tick += len(batch) / rate
                time.sleep(max(0.0, tick - time.monotonic()))
        world.wait_deliveries(timeout=120)
        world.drain(timeout=DRAIN_SECONDS, inline=False,
                    until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        world.drain(timeout=60, inline=False)  # whatever the last events queued
        seconds = time.monotonic() - started
        calls = len(world.sandbox.calls) - first_call
        written = sum(1 for c in ids if world.writes.of(c))
        return CallsRow(platform, mode, sent, calls, naive * sent, seconds, written, len(ids))
    finally:
        world.close()


def table(rows: list[CallsRow], contacts: int, rate: float) -> Table:
    result = Table(title=f"CRM API calls per 1,000 change events over {contacts} contacts (1 worker, loopback)")
    for column in ("platform", "arrival", "events", "calls", "calls / 1,000 events",
                   "naive: 1 read + 1 write per event", "ratio vs naive", "contacts written", "s"):
        result.add_column(column, justify="left" if column in ("platform", "arrival") else "right")
    for row in rows:
        arrival = "burst" if row.mode == "burst" else f"steady {rate:.0f}/s"
        result.add_row(row.platform, arrival, f"{row.events:,}", f"{row.calls:,}", f"{row.per_1000:.0f}",
                       f"{row.naive_per_1000:,.0f}", f"{row.calls / max(1, row.naive):.4f}",
                       f"{row.written}/{row.contacts}", f"{row.seconds:.1f}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.calls", description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", choices=PLATFORMS)
    parser.add_argument("--mode", action="append", choices=("burst", "steady"))
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second in the steady run")
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    console = Console(width=None if sys.stdout.isatty() else 160)
    rows = []
    for platform in args.platform or PLATFORMS:
        for mode in args.mode or ("burst", "steady"):
            with console.status(f"{platform}: {mode}..."):
                rows.append(run(platform, mode, events=args.events, contacts=args.contacts, rate=args.rate))
    console.print(table(rows, args.contacts, args.rate))


if __name__ == "__main__":
    main(sys.argv[1:])
