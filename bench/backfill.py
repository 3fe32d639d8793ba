"""Backfill at HubSpot's real burst limit (100 calls / 10 s, enforced by the sandbox): calls per
contact and how much of the budget the run uses. ``cem-connector backfill`` as an admin runs it, one
worker process beside it; the baseline is the limit itself (100% = every call the window allows).
Budget used is the fluid bound, window held the rolling window's mean occupancy, rolling bound the calls
over the most a rolling window accepts from the first accepted call to the last (``bench._window``).

    python -m bench.backfill [--contacts N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sandbox.dataset import demo_records
from tests.faults.world import World

from ._window import WindowRecorder

LIMIT, WINDOW = 100, 10.0


def run(contacts: int, workers: int = 1) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="cem-bench-backfill-"))
    world = World("hubspot", directory, demo_records(contacts),
                  sandbox_options={"rate_limit": LIMIT, "rate_window": WINDOW})
    try:
        ids = world.contact_ids()
        for _ in range(workers):
            world.spawn_worker()
        time.sleep(WINDOW + 1)  # setup calls leave the window; the worker is up
        limits = world.sandbox.limits
        window = WindowRecorder(limits, LIMIT, WINDOW)
        before = limits._daily_used
        started = time.monotonic()
        done = world.cli("backfill", "--connection", str(world.connection_id), timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"backfill failed: {done.stderr[-500:]}")
        world.drain(timeout=300, inline=False, until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        elapsed = time.monotonic() - started
        calls = limits._daily_used - before
        written = sum(1 for c in ids if world.writes.of(c))
        return {"calls": calls, "per_contact": calls / len(ids), "elapsed": elapsed,
                "budget": calls / (LIMIT * elapsed / WINDOW + LIMIT), "held": window.held(started),
                "rolling": window.bound_used(started),
                "written": written}
    finally:
        world.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--workers", type=int, action="append", help="worker processes (repeatable; default 1 and 2)")
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"Backfill of {args.contacts:,} HubSpot contacts at the real limit ({LIMIT} calls / "
                        f"{WINDOW:.0f} s)")
    for column in ("worker processes", "calls accepted", "calls per contact (aim <= 0.3)",
                   "budget used (limit = 100%)", "window held (rolling)",
                   "budget used (rolling bound)", "contacts written", "s"):
        table.add_column(column, justify="right")
    for workers in args.workers or [1, 2]:
        with console.status(f"backfilling {args.contacts:,} contacts with {workers} worker(s)..."):
            r = run(args.contacts, workers)
        table.add_row(str(workers), f"{r['calls']:.0f}", f"{r['per_contact']:.3f}", f"{r['budget']:.0%}",
                      f"{r['held']:.0%}", f"{r['rolling']:.0%}", f"{r['written']:.0f}/{args.contacts}",
                      f"{r['elapsed']:.1f}")
    console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
