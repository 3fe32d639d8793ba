"""Checks a process runs before it serves anything: configuration, schema, Redis URL."""

from __future__ import annotations

from .config import Settings
from .redis_conn import connect, require_reachable
from .store import Store


def prepare_schema(store: Store, *, migrate: bool) -> None:
    """Upgrade (``migrate``) or only check the schema; raises SchemaNotMigrated with the command to run."""
    if migrate:
        store.upgrade()
    else:
        store.require_migrated()


def prepare_web(settings: Settings | None = None) -> Settings:
    """What gunicorn's master checks once before forking workers (see connector/gunicorn_conf.py).

    A SQLite store is migrated here, in one process, so the workers never race each other; any other
    database must have been migrated by `cem-connector migrate`.
    """
    settings = settings or Settings.from_env()  # production's rules included (config.check_production)
    store = Store(settings.database_url)
    try:
        prepare_schema(store, migrate=settings.database_url.startswith("sqlite"))
    finally:
        store.dispose()
    if settings.redis_url:
        # a malformed URL, a Redis nobody listens on, or a database number it lacks stops the master here;
        # a Redis that goes away later is the receivers' 503 (the CRM retries)
        client = connect(settings.redis_url)
        try:
            require_reachable(client)
        finally:
            client.close()
    return settings
