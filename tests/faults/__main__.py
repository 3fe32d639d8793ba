"""`make faults`: run every fault scenario on every platform and print one row each.

    python -m tests.faults [--scenario KEY ...] [--platform NAME ...] [--ci]

Exit status 1 when any row fails. Logs go to a file (the path is printed), not the table.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import PLATFORMS, SCENARIOS
from .outcome import Row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=[s.key for s in SCENARIOS],
                        help="only this scenario (repeatable)")
    parser.add_argument("--platform", action="append", choices=PLATFORMS, help="only this platform (repeatable)")
    parser.add_argument("--ci", action="store_true", help="the smaller CI sizes (load: 1,000 events)")
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="cem-faults-"))
    logging.basicConfig(filename=base / "fault-suite.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    console = Console(width=None if sys.stdout.isatty() else 240)  # piped (CI logs): one line per row
    console.print(f"Fault suite ({'CI' if args.ci else 'full'} size); logs and data in {base}")
    rows: list[Row] = []
    started = time.monotonic()
    for scenario in SCENARIOS:
        if args.scenario and scenario.key not in args.scenario:
            continue
        for platform in [p for p in (args.platform or PLATFORMS) if p in scenario.platforms]:
            with console.status(f"{scenario.key} on {platform}..."):
                try:
                    row = scenario.run(platform, base / f"{scenario.key}-{platform}", full=not args.ci)
                except Exception as error:  # one broken scenario must not hide the others' rows
                    logging.getLogger("cem.faults").error("%s/%s crashed:\n%s", scenario.key, platform,
                                                          traceback.format_exc())
                    row = Row(scenario.key, platform, detail=f"crashed: {type(error).__name__}: {error}"[:300])
            rows.append(row)
            console.print(f"  {row.result} {row.scenario} / {platform} ({row.seconds:.1f}s)")
    console.print(table(rows))
    failed = [r for r in rows if not r.ok]
    console.print(f"{len(rows) - len(failed)}/{len(rows)} rows passed in {time.monotonic() - started:.0f}s.")
    return 1 if failed else 0


def table(rows: list[Row]) -> Table:
    result = Table(title="cem-connector fault suite", show_lines=False)
    for column, justify in (("scenario", "left"), ("platform", "left"), ("events sent", "right"),
                            ("applied", "right"), ("lost", "right"), ("duplicate writes", "right"),
                            ("result", "center"), ("s", "right"), ("detail", "left")):
        result.add_column(column, justify=justify, no_wrap=column != "detail")  # type: ignore[arg-type]
    for row in rows:
        style = "green" if row.ok else "bold red"
        result.add_row(row.scenario, row.platform, str(row.sent), str(row.applied), str(row.lost),
                       str(row.duplicates), f"[{style}]{row.result}[/{style}]", f"{row.seconds:.1f}", row.detail)
    return result


if __name__ == "__main__":
    sys.exit(main())
