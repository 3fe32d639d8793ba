"""Persistence: SQLAlchemy models, the Store and its migrations."""

from .db import DatabaseUnreachable, DatabaseUrlError, SchemaNotMigrated, Store, StoreError, display_url
from .models import (
    PERSONAL_DATA_TABLES,
    Activity,
    ApiUsage,
    Base,
    Connection,
    ContactState,
    DeadLetter,
    SyncCursor,
    WrittenValues,
)

__all__ = [
    "PERSONAL_DATA_TABLES",
    "Activity",
    "ApiUsage",
    "Base",
    "Connection",
    "ContactState",
    "DatabaseUnreachable",
    "DatabaseUrlError",
    "DeadLetter",
    "SchemaNotMigrated",
    "Store",
    "StoreError",
    "SyncCursor",
    "WrittenValues",
    "display_url",
]
