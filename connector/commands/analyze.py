"""`cem-connector analyze FILE.jsonl`: run the CEM engine on exchange records, without a CRM.

Admins use it to try the engine and tune ``engine.toml``; support uses it to replay a customer's history
(``--now`` fixes the analysis time so results are reproducible).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import click
from rich.table import Table

from adapters.fields import as_utc
from cem_engine import CEMEngineError, analyze, load_config
from cem_engine.exchange import Problem, read_exchange

from .common import console
from .tables import Column, clip, fitted_table, short_ids

JSON_KEYS = (
    "contact_id", "journey_stage", "journey_stage_since", "emotion_score", "emotion", "emotion_trend",
    "churn_risk", "churn_reason", "churn_reason_detail", "explanation",
)


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO date-time: {value!r}", param_hint="--now") from None
    return as_utc(parsed)


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    file = Path(path)
    if not file.exists():
        raise click.ClickException(f"file not found: {path}")
    if file.is_dir():
        raise click.ClickException(f"{path} is a directory, expected a .jsonl file")
    return file.open("rb")


def _decoded(handle: BinaryIO, problems: list[Problem]) -> Iterator[str]:
    """Lines as text; a line that is not UTF-8 is reported and read as blank, so numbering stays right."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(number, "not UTF-8 text"))
            yield ""


ANALYZE_COLUMNS = (
    Column("Contact", 8), Column("Stage (since)", 10), Column("Emotion", 9, priority=2), Column("Trend", 5, priority=4),
    Column("Risk", 4), Column("Reason", 12), Column("Evidence", 14, priority=1, wrap=True),
)


def _table(profiles: list[dict[str, Any]], width: int) -> Table:
    contacts = short_ids(p["contact_id"] for p in profiles)
    rows = []
    for p in profiles:
        since = (p["journey_stage_since"] or "")[:10]
        risk = p["churn_risk"]
        style = "red" if risk >= 60 else "yellow" if risk >= 30 else "green"
        rows.append((contacts[p["contact_id"]], f"{p['journey_stage']}\n{since}",
                     f"{p['emotion']} ({p['emotion_score']:+.0f})", f"{p['emotion_trend']:+.0f}",
                     f"[{style}]{risk}[/{style}]", p["churn_reason"], clip(p["churn_reason_detail"], 300)))
    table = fitted_table(ANALYZE_COLUMNS, rows, width, title="Customer Experience Mapping",
                         more="--json shows every field")
    table.show_lines = True
    return table


@click.command("analyze")
@click.argument("file", metavar="FILE.jsonl")
@click.option("--now", "now_text", metavar="ISO", help="Analysis time (default: now, UTC).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per contact per line.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Engine config TOML over the defaults.")
@click.option("--strict", is_flag=True,
              help="Exit with status 1 when any line was skipped (the good lines are still analysed and printed).")
def analyze_command(file: str, now_text: str | None, as_json: bool, config_path: str | None, strict: bool) -> None:
    """Analyse contacts in an exchange JSONL FILE ('-' reads stdin) and print one result per contact.

    A bad line never costs the file: it is skipped and reported on stderr with its line number, and the
    rest is analysed. Use --strict to make skipped lines an error (exit status 1).
    """
    now = _parse_now(now_text)
    try:
        config = load_config(config_path) if config_path else load_config()
    except CEMEngineError as exc:
        raise click.ClickException(str(exc)) from exc
    handle = _open(file)
    decode_problems: list[Problem] = []
    try:
        read = read_exchange(_decoded(handle, decode_problems))
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    problems = sorted(decode_problems + read.problems, key=lambda p: p.line)
    for problem in problems:
        click.echo(f"{file}:{problem}", err=True)
    skipped = sum(1 for p in problems if p.skipped)
    if skipped:
        click.echo(f"{file}: {skipped} line(s) skipped, {len(read.contacts)} contact(s) analysed", err=True)
    try:
        profiles = [analyze(c, now=now, config=config).to_dict() for c in read.contacts]
    except CEMEngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for p in profiles:
            click.echo(json.dumps({k: p[k] for k in JSON_KEYS}, ensure_ascii=False))
    elif not profiles:
        click.echo("No contacts in the input.")
    else:
        console.print(_table(profiles, console.width))
    if strict and skipped:
        raise SystemExit(1)
