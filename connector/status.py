"""What an admin wants to know at a glance: connections, queue, errors, API usage."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from .diagnose import explain
from .runtime import Runtime
from .store import Activity, ApiUsage, Connection, ContactAnalysis, DeadLetter, SyncCursor, WrittenValues


def collect_status(rt: Runtime) -> dict[str, Any]:
    with rt.store.session() as session:
        connections = list(session.scalars(select(Connection).order_by(Connection.id)))
        analysed = dict(session.execute(select(ContactAnalysis.connection_id, func.count()).group_by(
            ContactAnalysis.connection_id)).all())
        written = dict(session.execute(select(WrittenValues.connection_id, func.count()).group_by(
            WrittenValues.connection_id)).all())
        dead = dict(session.execute(select(DeadLetter.connection_id, func.count()).where(
            DeadLetter.replayed_at.is_(None)).group_by(DeadLetter.connection_id)).all())
        usage = {u.connection_id: u for u in session.scalars(select(ApiUsage).where(ApiUsage.day == date.today()))}
        cursors = {(c.connection_id, c.kind): c for c in session.scalars(select(SyncCursor))}
        errors = list(session.scalars(select(DeadLetter).where(DeadLetter.replayed_at.is_(None)).order_by(
            DeadLetter.id.desc()).limit(10)))
        recent = list(session.scalars(select(Activity).order_by(Activity.id.desc()).limit(10)))
    try:
        queue: dict[str, Any] = rt.queue.depth()
    except Exception as exc:
        queue = {"error": explain(exc) or f"queue unreachable: {type(exc).__name__}"}
    return {
        "connections": [
            {
                "id": c.id, "platform": c.platform, "name": c.name, "account_id": c.account_id, "active": c.active,
                "webhook_url": f"{rt.settings.public_url}/webhooks/{c.platform}/{c.id}",
                "contacts_analysed": analysed.get(c.id, 0), "contacts_written": written.get(c.id, 0),
                "dead_letters": dead.get(c.id, 0),
                "api_calls_today": usage[c.id].calls if c.id in usage else 0,
                "api_limits": usage[c.id].limits if c.id in usage else {},
                "backfill": _cursor(cursors.get((c.id, "backfill"))),
            }
            for c in connections
        ],
        "queue": queue,
        "errors": [{"id": d.id, "connection_id": d.connection_id, "contact_id": d.contact_id, "job": d.job,
                    "error": d.error, "attempts": d.attempts, "at": d.created_at.isoformat()} for d in errors],
        "recent": [{"connection_id": a.connection_id, "contact_id": a.contact_id, "action": a.action,
                    "detail": a.detail, "at": a.at.isoformat()} for a in recent],
    }


def _cursor(cursor: SyncCursor | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    return {"status": cursor.status, "processed": cursor.processed, "total": cursor.total}
