"""The store on SQLite and PostgreSQL: migrations, encrypted credentials, GDPR forget."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from connector.connections import create_connection, get_connection, rotate_webhook_secret, webhook_secrets
from connector.crypto import CryptoError, SecretBox
from connector.store import PERSONAL_DATA_TABLES, Activity, ContactAnalysis, DeadLetter, Store, WrittenValues

KEY = "3x0J9SLgBTPmj1n8V_iEXmY0TQ9HqCQ2Q0p8b2Y7cT0="


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()


def test_migrations_create_every_table_and_are_idempotent(store: Store) -> None:
    store.upgrade()  # a second run changes nothing
    assert {"connections", "contact_states", "written_values", "dead_letters", "activity", "api_usage",
            "sync_cursors", "alembic_version"} <= set(store.table_names())


def test_credentials_are_encrypted_at_rest(store: Store) -> None:
    box = SecretBox(KEY)
    connection_id = create_connection(store, box, platform="hubspot", name="acme",
                                      settings={"portal_id": "42"}, credentials={"access_token": "pat-secret-123"},
                                      webhook_secrets=["hook-secret-456"], account_id="42")
    with store.engine.connect() as connection:
        raw = connection.execute(text("SELECT credentials, webhook_secrets, settings FROM connections")).one()
    raw_bytes = bytes(raw[0]) + bytes(raw[1])
    assert b"pat-secret-123" not in raw_bytes and b"hook-secret-456" not in raw_bytes
    row = get_connection(store, connection_id)
    assert box.open(row.credentials) == {"access_token": "pat-secret-123"}
    with pytest.raises(CryptoError, match="cannot be decrypted"):
        SecretBox("Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=").open(row.credentials)


def test_webhook_secret_rotation_keeps_the_previous_one(store: Store) -> None:
    box = SecretBox(KEY)
    connection_id = create_connection(store, box, platform="hubspot", name="rot", settings={}, credentials={},
                                      webhook_secrets=["first"])
    rotate_webhook_secret(store, box, connection_id, "second")
    assert webhook_secrets(box, get_connection(store, connection_id)) == ["second", "first"]
    rotate_webhook_secret(store, box, connection_id, "third")
    assert webhook_secrets(box, get_connection(store, connection_id)) == ["third", "second"]


def test_reconnecting_with_the_same_name_updates_in_place(store: Store) -> None:
    box = SecretBox(KEY)
    first = create_connection(store, box, platform="hubspot", name="same", settings={"a": 1}, credentials={})
    second = create_connection(store, box, platform="hubspot", name="same", settings={"a": 2}, credentials={})
    assert first == second
    assert get_connection(store, first).settings == {"a": 2}


def test_personal_data_tables_all_key_on_contact(store: Store) -> None:
    box = SecretBox(KEY)
    connection_id = create_connection(store, box, platform="hubspot", name="gdpr", settings={}, credentials={})
    with store.session() as session:
        session.add(ContactAnalysis(connection_id=connection_id, contact_id="7", profile={"x": 1}, desired={}))
        session.add(WrittenValues(connection_id=connection_id, contact_id="7", values={}, write_count=1))
        session.add(DeadLetter(connection_id=connection_id, contact_id="7", job="write", payload={}, error="e"))
        session.add(Activity(connection_id=connection_id, contact_id="7", action="written", detail=""))
    with store.session() as session:
        for table in PERSONAL_DATA_TABLES:
            assert session.scalars(select(table).where(table.contact_id == "7")).first() is not None
