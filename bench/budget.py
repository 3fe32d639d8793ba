"""Under HubSpot's real burst limit (100 calls / 10 s, the sandbox enforcing it): how much of the API
budget the connector uses, and how long a new contact waits for its CEM fields.

Loads on a whole loopback connector (one worker process): floods (``--contacts`` new contacts in 10 s,
far past what the budget reads in that time: by default 1,000, and 2,000, the load issue 14 measured
before, p50 82.8 s) and a load within budget (20 new contacts/s for 10 s). Each contact has its
seeded history; the CRM announces it with a ``contact.creation`` webhook.
Per contact: webhook -> first CEM write on the record (p50, p95), and when the first one became
visible; budget used = accepted calls / (limit x elapsed / window + limit); window held = the rolling
window's mean occupancy from the first accepted call to the last; rolling bound = those calls / the most
a rolling window accepts over that span (``bench._window`` says why all three: the first formula is a
fluid bound no rolling window reaches). The baseline is the limit itself.

    python -m bench.budget [--contacts N ...]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sandbox.dataset import demo_records
from tests.faults.world import World

from ._window import WindowRecorder

LIMIT, WINDOW = 100, 10.0  # HubSpot public / Free-Starter private apps: 100 requests per 10 s
DRAIN_SECONDS = 600.0


def run(contacts: int, seconds: float) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="cem-bench-budget-"))
    world = World("hubspot", directory, demo_records(contacts),
                  sandbox_options={"rate_limit": LIMIT, "rate_window": WINDOW})
    try:
        ids = world.contact_ids()
        world.spawn_worker()
        time.sleep(WINDOW + 1)  # the worker starts and the setup calls leave the 10-second window
        limits = world.sandbox.limits
        window = WindowRecorder(limits, LIMIT, WINDOW)
        accepted_before = limits._daily_used
        emitted: dict[str, float] = {}
        started = time.monotonic()
        per_tick = max(1, round(contacts / (seconds * 10)))
        for start in range(0, len(ids), per_tick):
            chunk = ids[start:start + per_tick]
            now = time.monotonic()
            world.sandbox.send_events([world.sandbox.events.creation("contact", c, "CRM_UI", None) for c in chunk])
            emitted.update({c: now for c in chunk})
            time.sleep(max(0.0, started + (start + per_tick) / per_tick * 0.1 - time.monotonic()))
        world.drain(timeout=DRAIN_SECONDS, inline=False, until=lambda: all(world.writes.of(c) for c in ids))
        first_write = {c: world.writes.of(c)[0].at for c in ids}
        finished = max(first_write.values())
        latency = sorted(first_write[c] - emitted[c] for c in ids)
        elapsed = finished - started
        accepted = limits._daily_used - accepted_before
        return {"p50": statistics.median(latency), "p95": latency[int(0.95 * (len(latency) - 1))],
                "first": min(first_write.values()) - started, "elapsed": elapsed, "calls": accepted,
                "budget": accepted / (LIMIT * elapsed / WINDOW + LIMIT),  # + the window's opening allowance
                "held": window.held(started),  # the rolling measure (bench._window)
                "rolling": window.bound_used(started),
                "half": sum(1 for t in first_write.values() if t - started <= elapsed / 2) / len(ids)}
    finally:
        world.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.budget", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, action="append",
                        help="new contacts in a 10-second flood (repeatable; default 1,000 and 2,000)")
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"HubSpot at its real limit ({LIMIT} calls / {WINDOW:.0f} s), 1 worker: new contacts "
                        "-> CEM fields visible")
    for column in ("load", "calls accepted", "budget used (limit = 100%)", "window held (rolling)",
                   "budget used (rolling bound)", "webhook->field p50", "p95",
                   "first visible after", "visible by half-time", "s until all visible"):
        table.add_column(column, justify="left" if column == "load" else "right")
    loads = [(f"flood: {n:,} new contacts in 10 s", n) for n in args.contacts or (1000, 2000)]
    for label, contacts in (*loads, ("within budget: 20 new contacts/s for 10 s", 200)):
        with console.status(label):
            r = run(contacts, 10.0)
        table.add_row(label, f"{r['calls']:.0f}", f"{r['budget']:.0%}", f"{r['held']:.0%}",
                      f"{r['rolling']:.0%}", f"{r['p50']:.1f} s",
                      f"{r['p95']:.1f} s", f"{r['first']:.1f} s", f"{r['half']:.0%}", f"{r['elapsed']:.1f}")
    console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
