"""Load: N webhook events from each sandbox CRM's own sender into a whole loopback connector with two
worker processes; how fast the receivers accept them and how long until every contact is written.

    python -m bench.load [EVENTS]     (default 10,000; `python -m bench` runs it too)

Figures only, no timed assertions (the fault suite asserts correctness: none lost, none doubled).
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.faults import PLATFORMS, scenario_load

LONG = True  # minutes: `python -m bench --long` or `python -m bench.load`


def main(events: int = 10_000) -> None:
    logging.disable(logging.WARNING)  # the table is the output
    console = Console()
    table = Table(title=f"Load: {events:,} webhook events per CRM, 2 workers")
    for column in ("platform", "deliveries", "events/s accepted", "s until all written", "contacts applied",
                   "lost", "duplicate writes", "result"):
        table.add_column(column, justify="left" if column == "platform" else "right")
    for platform in PLATFORMS:
        with console.status(f"{platform}: sending {events:,} events..."):
            row = scenario_load.run(platform, Path(tempfile.mkdtemp(prefix=f"cem-load-{platform}-")),
                                    events=events, contacts=200)
        figures = row.figures
        table.add_row(platform, str(figures.get("deliveries", "-")), str(figures.get("events_per_second_in", "-")),
                      str(figures.get("seconds_to_drain", "-")), str(row.applied), str(row.lost),
                      str(row.duplicates), row.result if row.ok else f"{row.result}: {row.detail}")
    console.print(table)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
