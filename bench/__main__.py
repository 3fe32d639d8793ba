"""Run every ``bench/*.py`` module that defines ``main()``, in name order; one failing bench does not stop the rest."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path


def main() -> int:
    failed = []
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        try:
            loaded = importlib.import_module(f"bench.{module.name}")
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
