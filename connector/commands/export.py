"""export: a connected CRM's contacts and interactions in the exchange format (JSON Lines).

Support replays a customer's history with `cem-connector analyze`; admins can try engine
tuning on their own data without touching the CRM.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from adapters.base import chunked
from cem_engine.exchange import to_records

from .common import console, pick_connection, runtime

FETCH_BATCH = 50


@click.command("export")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
@click.option("--contact", "contact_ids", multiple=True, help="Only these contacts (repeatable).")
@click.option("--limit", type=int, default=0, help="At most this many contacts (0: all).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
def export_command(connection_id: int | None, contact_ids: tuple[str, ...], limit: int, output: Path | None) -> None:
    """Write contacts with their deals and interactions as exchange-format JSON Lines.

    \b
    Examples:
      cem-connector export --contact 1234 -o customer.jsonl
      cem-connector analyze customer.jsonl --now 2026-11-01T00:00:00Z
    The file holds customer text: treat it as personal data.
    """
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        adapter = rt.adapter(connection_id)
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        written = 0
        try:
            for batch in _batches(adapter, list(contact_ids), limit):
                for data in adapter.fetch_contacts(batch).values():
                    for record in to_records(data):
                        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                    written += 1
        finally:
            if output:
                stream.close()
        if output:
            console.print(f"Exported {written} contact(s) to {output}.")


def _batches(adapter, contact_ids: list[str], limit: int):  # type: ignore[no-untyped-def]
    if contact_ids:
        yield from chunked(contact_ids, FETCH_BATCH)
        return
    remaining = limit or None
    for page in adapter.iter_contacts():
        ids = page.contact_ids[:remaining] if remaining is not None else page.contact_ids
        yield from chunked(ids, FETCH_BATCH)
        if remaining is not None:
            remaining -= len(ids)
            if remaining <= 0:
                return
