"""Persistence: SQLAlchemy models, the Store and its migrations."""

from .db import Store, upsert
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
    "PERSONAL_DATA_TABLES", "Activity", "ApiUsage", "Base", "Connection", "ContactAnalysis", "DeadLetter", "Store",
    "SuppressedContact", "SyncCursor", "WrittenValues", "upsert",
]
