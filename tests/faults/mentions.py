"""Where a contact's id is still stored: the database search the GDPR and customer-sentences rows share."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path


def id_needles(contact_id: str) -> set[str]:
    """The id as stored: whole, and a Salesforce id's 15-character form."""
    return {contact_id.lower(), contact_id[:15].lower()}


def id_pattern(contact_id: str) -> re.Pattern[str]:
    # whole tokens only: a numeric HubSpot id ("16") also occurs inside hex digests (the suppression list's
    # keyed hashes) and timestamps, which name no one
    return re.compile("|".join(rf"(?<![0-9a-z]){re.escape(n)}(?![0-9a-z])" for n in id_needles(contact_id)))


def tables_naming(directory: Path, contact_id: str) -> list[str]:
    """The tables of ``directory/cem.db`` with a row that names the contact (every column read as text)."""
    pattern = id_pattern(contact_id)
    found: list[str] = []
    with sqlite3.connect(directory / "cem.db") as db:
        # api_usage holds per-connection daily call counts and rate-limit figures, nothing about a person;
        # its numbers collide with numeric HubSpot ids ("102" remaining calls), so it is not searched
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if r[0] != "api_usage"]
        for table in tables:
            for values in db.execute(f'SELECT * FROM "{table}"'):  # table names come from sqlite_master
                text = " ".join(v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                                for v in values).lower()
                if pattern.search(text):
                    found.append(table)
                    break
    return found
