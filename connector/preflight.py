"""Checks a process runs before it serves anything: configuration, schema, Redis URL."""

from __future__ import annotations

from .config import Settings
from .redis_conn import connect
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
    from .web.security import check_production  # the web's own production rules, checked before forking

    settings = settings or Settings.from_env()
    check_production(settings)
    store = Store(settings.database_url)
    try:
        prepare_schema(store, migrate=settings.database_url.startswith("sqlite"))
    finally:
        store.dispose()
    if settings.redis_url:
        connect(settings.redis_url).close()  # a malformed URL fails here; a down Redis is the receivers' 503
    return settings
