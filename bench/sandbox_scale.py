"""Does a sandbox CRM stay cheap as it grows? Reading the same 100 contacts from a Dataverse sandbox
seeded with 200 contacts (baseline) and with 2,000, side by side: with the sandbox indexed the ratio
stays near 1, so load benchmarks measure the connector, not the stand-in.

    python -m bench.sandbox_scale
"""

from __future__ import annotations

import logging
import sys
import time

from rich.console import Console
from rich.table import Table

from adapters.base import ConnectionInfo
from adapters.dynamics import DynamicsAdapter
from sandbox.dataset import demo_records
from sandbox.dynamics import DynamicsSandbox

READ = 100
SIZES = (200, 2000)
ROUNDS = 3


def read_seconds(total: int) -> tuple[float, float, int]:
    """(best wall seconds, best sandbox-process CPU seconds, calls) to read READ contacts with their history."""
    sandbox = DynamicsSandbox(requests_per_window=10_000_000)
    sandbox.seed(demo_records(total))
    sandbox.start()
    try:
        settings, credentials = sandbox.connection_settings()
        adapter = DynamicsAdapter(ConnectionInfo(1, "dynamics", settings, credentials))
        ids = sandbox.contact_ids()[:READ]
        adapter.fetch_contacts(ids[:1])  # token and first connection outside the measurement
        best_wall = best_cpu = float("inf")
        calls = 0
        for _ in range(ROUNDS):
            before = len(sandbox.calls)
            wall, cpu = time.perf_counter(), time.process_time()
            found = adapter.fetch_contacts(ids)
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            calls = len(sandbox.calls) - before
            assert len(found) == READ, f"read {len(found)} of {READ} contacts"
        return best_wall, best_cpu, calls
    finally:
        sandbox.stop()


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"Dataverse sandbox: reading {READ} contacts as the sandbox grows (best of {ROUNDS})")
    for column in ("contacts in the sandbox", "API calls", "wall", "CPU (connector + sandbox, one process)",
                   "wall ratio vs 200"):
        table.add_column(column, justify="right")
    results = {size: read_seconds(size) for size in SIZES}
    base_wall = results[SIZES[0]][0]
    for size, (wall, cpu, calls) in results.items():
        table.add_row(f"{size:,}" + (" (baseline)" if size == SIZES[0] else ""), str(calls), f"{wall * 1000:.0f} ms",
                      f"{cpu * 1000:.0f} ms", f"{wall / base_wall:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
