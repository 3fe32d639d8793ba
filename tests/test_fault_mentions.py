"""The fault rows' id search: a short numeric HubSpot id must match as a whole token, not inside a digest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.faults.mentions import tables_naming


def _db(directory: Path, rows: dict[str, str]) -> None:
    with sqlite3.connect(directory / "cem.db") as db:
        for table, value in rows.items():
            db.execute(f'CREATE TABLE "{table}" (value TEXT)')
            db.execute(f'INSERT INTO "{table}" VALUES (?)', (value,))


def test_a_digest_or_timestamp_containing_the_digits_names_no_one(tmp_path: Path) -> None:
    # the sandbox numbers HubSpot contacts from 101; a suppression key is a 64-digit hex HMAC
    _db(tmp_path, {"suppressed_contacts": "9f101ab" + "0" * 57, "runs": "2026-11-26 21:10:11.101234"})
    assert tables_naming(tmp_path, "101") == []


def test_the_id_as_a_whole_token_is_found_in_any_case(tmp_path: Path) -> None:
    _db(tmp_path, {"contact_analyses": "pending:3:101", "dead_letters": '{"contact": "0035G00001ABCDE"}',
                   "api_usage": "101"})  # usage counts are numbers, not people
    assert tables_naming(tmp_path, "101") == ["contact_analyses"]
    assert tables_naming(tmp_path, "0035g00001abcdefghi") == ["dead_letters"]  # stored in its 15-character form
