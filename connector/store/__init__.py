"""Persistence: SQLAlchemy models, the Store and its migrations."""

from ..errors import DatabaseUnreachable, DatabaseUrlError, SchemaNotMigrated, StoreError
from .db import Store, display_url, upsert
from .models import (
    PERSONAL_DATA_TABLES,
    Activity,
    ApiUsage,
    Base,
    Connection,
    ContactAnalysis,
    DeadLetter,
    SuppressedContact,
    SyncCursor,
    WrittenValues,
)

__all__ = [
    "PERSONAL_DATA_TABLES",
    "Activity",
    "ApiUsage",
    "Base",
    "Connection",
    "ContactAnalysis",
    "DatabaseUnreachable",
    "DatabaseUrlError",
    "DeadLetter",
    "SchemaNotMigrated",
    "Store",
    "StoreError",
    "SuppressedContact",
    "SyncCursor",
    "WrittenValues",
    "display_url",
    "upsert",
]
