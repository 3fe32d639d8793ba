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
from ..connections import get_connection, list_connections
from ..registry import get_platform
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
            value = read_value_file(value[1:], f"{option} {key}")
        try:
            result[key] = json.loads(value) if value[:1] in "[{0123456789-" or value in ("true", "false") else value
        except json.JSONDecodeError:
            result[key] = value
    return result


def read_value_file(name: str, option: str) -> str:
    """KEY=@file: the file's text, or a one-line error naming the file (missing, a directory, unreadable)."""
    path = Path(name).expanduser()
    try:
        return path.read_text()
    except IsADirectoryError:
        problem = "is a directory; name a file"
    except FileNotFoundError:
        problem = "does not exist; check the path (relative paths start in the current directory)"
    except (OSError, UnicodeDecodeError) as error:
        problem = f"cannot be read ({getattr(error, 'strerror', None) or type(error).__name__})"
    raise click.ClickException(f"{option}=@{name}: {path} {problem}.")


def read_json_object(path: Path, option: str) -> dict[str, Any]:
    """A JSON object from a file, or a one-line error with the line and column of the mistake."""
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{option} {path} is not valid JSON ({error.msg} at line {error.lineno}, column "
                                   f"{error.colno}); it must be one object like "
                                   '{"client_secret": "..."}.') from None
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{option} {path} cannot be read ({type(error).__name__}).") from None
    if not isinstance(value, dict):
        raise click.ClickException(f"{option} {path} holds a JSON {type(value).__name__}; it must be one object "
                                   'like {"client_secret": "..."}.')
    return value


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


def typed_contact_id(rt: Runtime, connection_id: int, typed: str) -> str:
    """The contact id an admin typed, in the form the connection stores (Salesforce 15 -> 18 characters,
    Dataverse GUIDs in lower case): `forget` must find the person however the id was copied."""
    row = get_connection(rt.store, connection_id)
    return get_platform(row.platform).adapter_class().contact_id_form(typed)
