"""Persistence: SQLAlchemy models, the Store and its migrations."""

from .db import Store
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
    "PERSONAL_DATA_TABLES", "Activity", "ApiUsage", "Base", "Connection", "ContactAnalysis", "DeadLetter", "Store",
    "SyncCursor", "WrittenValues",
]
