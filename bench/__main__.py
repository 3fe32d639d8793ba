"""Run every ``bench/*.py`` module that defines ``main()``, in name order; one failing bench does not stop the rest.

    python -m bench [--long] [NAME ...]

Modules that set ``LONG = True`` (minutes of load) run only with ``--long``; NAMEs pick modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    long_rows = "--long" in args
    chosen = [a for a in args if not a.startswith("-")]
    failed = []
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if module.name.startswith("_") or (chosen and module.name not in chosen):
            continue
        try:
            loaded = importlib.import_module(f"bench.{module.name}")
            if getattr(loaded, "LONG", False) and not long_rows and not chosen:
                print(f"\n== bench.{module.name} == (long: run with `python -m bench --long`)", flush=True)
                continue
            entry = getattr(loaded, "main", None)
            if callable(entry):
                print(f"\n== bench.{module.name} ==", flush=True)
                entry()
        except Exception:  # a broken benchmark is reported, the others still run
            failed.append(module.name)
            traceback.print_exc()
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
