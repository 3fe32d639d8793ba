"""Scenario 13.11: customer words in the connector's database.

The pipeline runs over the demo customers; then every table of the database is read as text. Rule
(README, ``connector/store/models.py``): customer words are stored only as short quotes, each at most
``reason.quote_chars`` characters (what one quote of the CRM's Churn Reason Detail field holds), never
a message body. The row searches the stored text for any passage of an inbound message longer than
that (windows of quote_chars + 10 characters), reports how many of the customers' sentences appear at
all, and checks that after ``cem-connector forget`` nothing about the person is left.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cem_engine.text import clean_text, split_sentences
from sandbox.dataset import demo_records

from .mentions import tables_naming
from .outcome import Row
from .story import first_sync
from .world import scenario_world

MIN_SENTENCE = 25
# one long sentence: quoted whole, it would say far more than one quote of the CRM field holds
LONG_COMPLAINT = ("I am really frustrated and angry that the export has been broken for three weeks now, that every "
                  "ticket we open is closed without an answer, that our finance team cannot close the month because "
                  "of it and that nobody from your side has called us back even once despite all the promises.")
PROBE = 40


def run(platform: str, directory: Path, contacts: int = 6) -> Row:
    row = Row("13.11 customer sentences stored", platform)
    records = demo_records(contacts)
    first = next(r["contact_id"] for r in records if r.get("record") == "contact")
    records.append({"record": "interaction", "contact_id": first, "id": "long-complaint", "kind": "email",
                    "direction": "inbound", "author": "customer", "occurred_at": records[-1].get("occurred_at")
                    or "2026-11-01T10:00:00Z", "subject": "Still broken", "body": LONG_COMPLAINT})
    with scenario_world(row, platform, directory, records, max_attempts=1) as world:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        world.drain()  # and the webhooks our own writes set off, so forget is the last word
        sentences = _customer_sentences(records)
        limit = world.runtime.engine_config.reason.quote_chars
        messages = _customer_messages(records)
        long = _long_passages(directory, messages, limit)
        stored = _stored_sentences(directory, sentences)
        forgotten = ids[0]
        forget = world.cli("forget", forgotten, "--connection", str(world.connection_id))
        left = tables_naming(directory, forgotten)
        row.applied = len(ids)
        row.lost = len(long)  # here: messages stored in passages longer than one CRM-field quote
        row.ok = not long and forget.returncode == 0 and not left
        row.detail = (f"{len(messages)} customer messages, {len(sentences)} sentences: {len(stored)} sentences appear "
                      f"as quotes, {len(long)} messages stored in a passage longer than {limit} characters; after "
                      f"forget: {', '.join(left) or 'nothing'} left about the person")
    return row


def _customer_messages(records: list[dict[str, object]]) -> list[str]:
    return [" ".join(clean_text(str(r.get("body") or "")).split()) for r in records
            if r.get("record") == "interaction" and r.get("direction") == "inbound"]


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


def _long_passages(directory: Path, messages: list[str], limit: int) -> list[str]:
    """Messages of which a passage longer than ``limit`` characters is stored somewhere."""
    text = _all_text(directory)
    width = limit + 10
    return [m for m in messages if len(m) >= width
            and any(m[start:start + width] in text for start in range(0, len(m) - width + 1, 5))]


def _stored_sentences(directory: Path, sentences: set[str]) -> set[str]:
    text = _all_text(directory)
    return {s for s in sentences if s[:PROBE] in text}


def _all_text(directory: Path) -> str:
    """Every value of every table, JSON unescaped, whitespace normalised."""
    import json

    parts: list[str] = []
    with sqlite3.connect(directory / "cem.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for values in db.execute(f'SELECT * FROM "{table}"'):  # table names come from sqlite_master
                for value in values:
                    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                    try:
                        parsed = json.loads(text)
                    except ValueError:
                        parsed = None
                    parts.extend(_leaves(parsed) if isinstance(parsed, dict | list) else [text])
    return "\n".join(" ".join(p.split()) for p in parts)


def _leaves(value: object) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [str(value)] if isinstance(value, str) else []
