"""Scenario 13.11: customer sentences in the connector's database.

The pipeline runs over the demo customers; then every table of the database is read as text and
searched for the customers' own sentences (inbound messages, cleaned as the engine cleans them,
sentences of 25 characters or more, matched on their first 40). The only place a sentence may
appear is the Churn Reason Detail the connector writes to the CRM (``churn_reason_detail``: short
quotes, at most ``reason.quote_chars`` characters each), which the CRM record shows anyway.
Everything else (explanations, cue and pain-point lists, risk signal texts) keeps ids, dates,
topics and cue words only. After ``cem-connector forget`` nothing about the person is left at all.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from cem_engine.text import clean_text, split_sentences
from sandbox.dataset import demo_records

from .outcome import Row
from .story import first_sync
from .world import World

MIN_SENTENCE = 25
PROBE = 40


def run(platform: str, directory: Path, contacts: int = 6) -> Row:
    row = Row("13.11 customer sentences stored", platform)
    started = time.monotonic()
    records = demo_records(contacts)
    world = World(platform, directory, records, max_attempts=1)
    try:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        world.drain()  # and the webhooks our own writes set off, so forget is the last word
        sentences = _customer_sentences(records)
        stored, in_detail = _stored(directory, sentences)
        forgotten = ids[0]
        forget = world.cli("forget", forgotten, "--connection", str(world.connection_id))
        left = _rows_about(directory, forgotten)
        row.applied = len(ids)
        row.lost = len(stored)  # here: customer sentences kept beyond what the CRM field shows
        row.ok = not stored and forget.returncode == 0 and not left
        row.detail = (f"{len(sentences)} customer sentences; {len(stored)} stored outside Churn Reason Detail, "
                      f"{len(in_detail)} quoted in it (the CRM field); after forget: "
                      f"{', '.join(left) or 'nothing'} left about the person")
        if stored:
            row.detail += f"; e.g. {sorted(stored)[0][:60]!r}"
    except TimeoutError as error:
        row.detail = f"not drained: {error}"
    finally:
        row.seconds = time.monotonic() - started
        world.close()
    return row


def _customer_sentences(records: list[dict[str, object]]) -> set[str]:
    found: set[str] = set()
    for record in records:
        if record.get("record") != "interaction" or record.get("direction") != "inbound":
            continue
        for sentence in split_sentences(clean_text(str(record.get("body") or ""))):
            text = " ".join(sentence.split())
            if len(text) >= MIN_SENTENCE:
                found.add(text)
    return found


def _stored(directory: Path, sentences: set[str]) -> tuple[set[str], set[str]]:
    """(sentences found outside churn_reason_detail values, sentences found inside them)."""
    import json

    outside: set[str] = set()
    inside: set[str] = set()
    with sqlite3.connect(directory / "cem.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for values in db.execute(f'SELECT * FROM "{table}"'):  # table names come from sqlite_master
                for value in values:
                    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                    details: list[str] = []
                    try:
                        parsed = json.loads(text)
                    except ValueError:
                        parsed = None
                    if isinstance(parsed, dict) and isinstance(parsed.get("churn_reason_detail"), str):
                        details.append(parsed["churn_reason_detail"])
                        text = text.replace(json.dumps(parsed["churn_reason_detail"])[1:-1], "")
                    for sentence in sentences:
                        probe = sentence[:PROBE]
                        if probe in text or json.dumps(probe)[1:-1] in text:
                            outside.add(sentence)
                        elif any(probe in d for d in details):
                            inside.add(sentence)
    return outside, inside


def _rows_about(directory: Path, contact_id: str) -> list[str]:
    needles = {contact_id.lower(), contact_id[:15].lower()}
    found: list[str] = []
    with sqlite3.connect(directory / "cem.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for values in db.execute(f'SELECT * FROM "{table}"'):
                text = " ".join(str(v) for v in values).lower()
                if any(n in text for n in needles):
                    found.append(table)
                    break
    return found
