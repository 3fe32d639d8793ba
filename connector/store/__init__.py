"""Persistence: SQLAlchemy models, the Store and its migrations."""

from ..errors import DatabaseUnreachable, DatabaseUrlError, SchemaNotMigrated, StoreError
from .db import Store, display_url
from .models import (
    PERSONAL_DATA_TABLES,
    Activity,
    ApiUsage,
    Base,
    Connection,
    ContactAnalysis,
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
    "ContactAnalysis",
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
