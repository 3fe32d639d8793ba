"""Helpers every command uses: the runtime, clear errors, key=value options."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..config import Settings
from ..connections import list_connections
from ..runtime import Runtime, set_runtime

# Piped output (CI logs, `make demo | tee`) gets a wide page instead of rich's 80-column default,
# unless COLUMNS says otherwise; tables fit whatever width this is (commands/tables.py).
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 160)


@contextmanager
def runtime() -> Iterator[Runtime]:
    """The runtime for one command. Errors propagate: the CLI group turns known ones into one line
    (connector.diagnose) and exit code 1."""
    rt: Runtime | None = None
    try:
        rt = Runtime(Settings.from_env())
        set_runtime(rt)
        yield rt
    finally:
        set_runtime(None)
        if rt is not None:
            rt.close()


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, Any]:
    """KEY=VALUE options; values that look like JSON (numbers, lists, true) are parsed as JSON."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        if value.startswith("@"):
            value = Path(value[1:]).expanduser().read_text()
        try:
            result[key] = json.loads(value) if value[:1] in "[{0123456789-" or value in ("true", "false") else value
        except json.JSONDecodeError:
            result[key] = value
    return result


def pick_connection(rt: Runtime, connection_id: int | None, platform: str | None = None) -> int:
    """The connection the admin meant: the given id, or the only one (of that platform)."""
    if connection_id is not None:
        return connection_id
    rows = list_connections(rt.store, platform)
    if len(rows) == 1:
        return rows[0].id
    what = f"{platform} connection" if platform else "connection"
    if not rows:
        raise click.ClickException(f"No {what} yet. Create one with `cem-connector connect {platform or 'PLATFORM'}`.")
    raise click.ClickException(f"Several {what}s exist ({', '.join(str(r.id) for r in rows)}); pass --connection ID.")
