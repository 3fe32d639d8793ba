"""The connector's tables. Logs and tables carry ids, never message bodies.

Customer words are stored only as short quotes, each at most ``reason.quote_chars`` characters (what one
quote of the CRM's Churn Reason Detail field holds): in ``ContactAnalysis.profile`` (the explanation, cut by
``connector.stored_profile``; the journey map's excerpt per interaction, ``connector.journey_display``) and
``ContactAnalysis.desired["churn_reason_detail"]`` (the field's own text). ``forget`` clears every table in
PERSONAL_DATA_TABLES.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Connection(Base):
    """One connected CRM account; credentials and webhook secrets are encrypted."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(100), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    webhook_secrets: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True)
    # "needs_reconnect" after the CRM refused the credentials: jobs stop calling it until `connect` again
    status: Mapped[str | None] = mapped_column(String(20))
    status_detail: Mapped[str | None] = mapped_column(Text)
    status_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("platform", "name", name="uq_connection_name"),)


class ContactAnalysis(Base):
    """The latest analysis of one contact (without customer words, see ``stored_profile``), and the newest
    source change we have seen."""

    __tablename__ = "contact_states"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    desired: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field values to write, JSON form
    source_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    analyzed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # when the CRM read behind this analysis began: an older read never replaces a newer one
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WrittenValues(Base):
    """The ledger of what we last wrote to each contact: diffing and loop prevention."""

    __tablename__ = "written_values"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    write_count: Mapped[int] = mapped_column(default=0)


class DeadLetter(Base):
    """A job that failed for good; `cem-connector replay` puts it back on the queue."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str | None] = mapped_column(String(100), index=True)
    job: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Activity(Base):
    """What happened, per contact, for the admin status page (ids and outcomes only)."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str | None] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40))  # received, analyzed, written, unchanged, skipped_own, failed
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiUsage(Base):
    """API calls per connection per day, and the last limits the CRM reported."""

    __tablename__ = "api_usage"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SyncCursor(Base):
    """Resumable backfill and reconcile positions."""

    __tablename__ = "sync_cursors"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # backfill | reconcile
    cursor: Mapped[str | None] = mapped_column(String(500))
    processed: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | done
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SuppressedContact(Base):
    """A person forgotten with `forget` whose CRM record still exists: a keyed hash, never the id."""

    __tablename__ = "suppressed_contacts"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    contact_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256 hex (connector.suppression)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Every table that can hold data about a person: `forget` must clear all of them.
PERSONAL_DATA_TABLES = (ContactAnalysis, WrittenValues, DeadLetter, Activity)
