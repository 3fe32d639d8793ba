"""`python -m eval` (`make eval`): score the CEM engine on the golden, public and blind labelled sets.

    python -m eval                       # every test set listed in eval/data/sets.toml
    python -m eval --group public        # one group (golden, public, holdout)
    python -m eval --engine /tmp/old     # score another copy of cem_engine (the "before" column)
    python -m eval --save eval/results/x.json

Prints per-reason precision / recall / F1, the reason confusion matrix, stage accuracy and the emotion
figures (sign recall per polarity, Pearson correlation with human ratings, complaint recall).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any


def _print_set(summary: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    head = f"[bold]{summary['set']}[/bold] ({summary['group']}, {summary['items']} items; {summary['engine']})"
    console.print(head)
    figures = {k: v for k, v in summary.items() if isinstance(v, int | float) and k != "items"}
    console.print("  " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    per_class = summary.get("reason_per_class")
    if per_class:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for name in ("reason", "support", "predicted", "precision", "recall", "F1"):
            table.add_column(name, justify="left" if name == "reason" else "right")
        for label, s in per_class.items():
            table.add_row(label, str(s["support"]), str(s["predicted"]), f"{s['precision']:.2f}",
                          f"{s['recall']:.2f}", f"{s['f1']:.2f}")
        console.print(table)
        conf = summary["reason_confusion"]
        labels = conf["labels"]
        matrix = Table(title="confusion (rows gold, columns engine)", box=None, pad_edge=False)
        matrix.add_column("")
        for label in labels:
            matrix.add_column(label[:6], justify="right")
        for label, row in zip(labels, conf["rows"], strict=True):
            matrix.add_row(label, *(str(v) if v else "." for v in row))
        console.print(matrix)
    stages = summary.get("stage_per_class")
    if stages:
        console.print("  stage recall: " + ", ".join(f"{k} {v['recall']:.2f} (n={v['support']})"
                                                       for k, v in stages.items() if v["support"]))
    console.print()


SUMMARY = (("reason_macro_f1", "reason F1"), ("complaint_recall", "complaint R"), ("negative_recall", "neg R"),
           ("positive_recall", "pos R"), ("valence_pearson", "Pearson"), ("emotion_accuracy", "emotion"),
           ("stage_accuracy", "stage"), ("risk_band_accuracy", "risk band"))


def _print_summary(summaries: list[dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    table = Table(title="summary (reason F1 = macro over gold classes; R = recall)")
    table.add_column("set")
    table.add_column("items", justify="right")
    for _, title in SUMMARY:
        table.add_column(title, justify="right")
    for s in summaries:
        table.add_row(s["set"], str(s["items"]), *(f"{s[k]:.2f}" if k in s else "-" for k, _ in SUMMARY))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", choices=("golden", "public", "holdout"), action="append",
                        help="only these groups (repeatable); default all")
    parser.add_argument("--set", dest="names", action="append", help="only the set(s) with this name")
    parser.add_argument("--engine", type=Path, help="directory holding another cem_engine package to score")
    parser.add_argument("--include-train", action="store_true", help="also score the train splits (tuning aid)")
    parser.add_argument("--config", type=Path, help="engine TOML laid over the defaults (tuning on train splits)")
    parser.add_argument("--save", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--quiet", action="store_true", help="only the one-line summaries")
    args = parser.parse_args(argv)
    if args.engine:
        if not (args.engine / "cem_engine" / "__init__.py").exists():
            parser.error(f"{args.engine} has no cem_engine package")
        sys.path.insert(0, str(args.engine.resolve()))

    from rich.console import Console

    from .harness import run_set
    from .sets import load_sets

    console = Console(width=160)
    overrides = tomllib.loads(args.config.read_text(encoding="utf-8")) if args.config else {}
    chosen = [s for s in load_sets()
              if (not args.group or s.group in args.group) and (not args.names or s.name in args.names)
              and (s.split == "test" or args.include_train)]
    if not chosen:
        console.print("no labelled set matches; see eval/data/sets.toml")
        return 2
    summaries = []
    for labelled in chosen:
        if not labelled.files:
            console.print(f"[yellow]{labelled.name}: no data files found; skipped[/yellow]")
            continue
        summary = run_set(labelled, overrides).summary()
        summary["split"] = labelled.split
        summaries.append(summary)
        if args.quiet:
            console.print(f"{summary['set']}: " + ", ".join(
                f"{k}={v}" for k, v in summary.items() if isinstance(v, int | float)))
        else:
            _print_set(summary, console)
    if len(summaries) > 1:
        _print_summary(summaries, console)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(summaries, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
