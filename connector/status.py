"""What an admin wants to know at a glance: connections and their health, queue, errors, API usage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from .diagnose import explain
from .runtime import Runtime
from .store import Activity, ApiUsage, Connection, ContactAnalysis, DeadLetter, SyncCursor, WrittenValues

INSTALL_ACTION = "install"  # Activity rows that record a field install run from the console
THROUGHPUT_WINDOW = timedelta(hours=1)


def collect_status(rt: Runtime) -> dict[str, Any]:
    now = datetime.now(UTC)
    hour_ago = now - THROUGHPUT_WINDOW
    with rt.store.session() as session:
        connections = list(session.scalars(select(Connection).order_by(Connection.id)))
        analysed = _per_connection(session, select(ContactAnalysis.connection_id, func.count()).group_by(
            ContactAnalysis.connection_id))
        written = _per_connection(session, select(WrittenValues.connection_id, func.count()).group_by(
            WrittenValues.connection_id))
        last_write = _per_connection(session, select(WrittenValues.connection_id, func.max(
            WrittenValues.written_at)).group_by(WrittenValues.connection_id))
        dead = _per_connection(session, select(DeadLetter.connection_id, func.count()).where(
            DeadLetter.replayed_at.is_(None)).group_by(DeadLetter.connection_id))
        failed_day = _per_connection(session, select(DeadLetter.connection_id, func.count()).where(
            DeadLetter.created_at >= now - timedelta(days=1)).group_by(DeadLetter.connection_id))
        usage = {u.connection_id: u for u in session.scalars(select(ApiUsage).where(ApiUsage.day == date.today()))}
        cursors = {(c.connection_id, c.kind): c for c in session.scalars(select(SyncCursor))}
        installs = {a.connection_id: a for a in session.scalars(select(Activity).where(
            Activity.action == INSTALL_ACTION).order_by(Activity.id))}
        hour = dict(session.execute(select(Activity.action, func.count()).where(Activity.at >= hour_ago).group_by(
            Activity.action)).all())
        errors = list(session.scalars(select(DeadLetter).where(DeadLetter.replayed_at.is_(None)).order_by(
            DeadLetter.id.desc()).limit(25)))
        recent = list(session.scalars(select(Activity).order_by(Activity.id.desc()).limit(15)))
    try:
        queue: dict[str, Any] = rt.queue.depth()
        deliveries = {c.id: rt.queue.deliveries.last_delivery(c.id) for c in connections}
        # calls counted in Redis and not yet flushed into api_usage (connector/queue/usage.py)
        unflushed = rt.queue.usage.pending([c.id for c in connections], date.today())
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        queue = {"error": explain(exc) or f"Redis failed ({type(exc).__name__}: {detail}); check REDIS_URL and the "
                                          "Redis server's log."}
        deliveries = {}
        unflushed = {}
    return {
        "connections": [
            {
                "id": c.id, "platform": c.platform, "name": c.name, "account_id": c.account_id, "active": c.active,
                "status": c.status or "ok", "status_detail": c.status_detail,
                "status_since": c.status_since.isoformat() if c.status_since else None,
                "webhook_url": f"{rt.settings.public_url}/webhooks/{c.platform}/{c.id}",
                "contacts_analysed": analysed.get(c.id, 0), "contacts_written": written.get(c.id, 0),
                "dead_letters": dead.get(c.id, 0), "failures_24h": failed_day.get(c.id, 0),
                "last_webhook": _iso(deliveries.get(c.id)), "last_write": _iso(last_write.get(c.id)),
                "api_calls_today": (usage[c.id].calls if c.id in usage else 0) + unflushed.get(c.id, (0, None))[0],
                "api_limits": unflushed.get(c.id, (0, None))[1] or (usage[c.id].limits if c.id in usage else {}),
                "daily_api_budget": (c.settings or {}).get("daily_api_budget"),
                "backfill": _cursor(cursors.get((c.id, "backfill"))),
                "reconcile": _cursor(cursors.get((c.id, "reconcile"))),
                "install": ({"at": _iso(installs[c.id].at), "detail": installs[c.id].detail}
                            if c.id in installs else None),
            }
            for c in connections
        ],
        "queue": queue,
        "throughput": {"window_minutes": int(THROUGHPUT_WINDOW.total_seconds() // 60),
                       "analysed": hour.get("written", 0) + hour.get("unchanged", 0),
                       "written": hour.get("written", 0), "failed": hour.get("failed", 0)},
        "errors": [{"id": d.id, "connection_id": d.connection_id, "contact_id": d.contact_id, "job": d.job,
                    "error": d.error, "attempts": d.attempts, "at": _iso(d.created_at)} for d in errors]
        + _failed_list(queue),
        "recent": [{"connection_id": a.connection_id, "contact_id": a.contact_id, "action": a.action,
                    "detail": a.detail, "at": _iso(a.at)} for a in recent],
    }


def _per_connection(session: Any, query: Any) -> dict[int, Any]:
    return dict(session.execute(query).all())


def _iso(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _cursor(cursor: SyncCursor | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    return {"status": cursor.status, "processed": cursor.processed, "total": cursor.total,
            "updated_at": _iso(cursor.updated_at), "since": _iso(cursor.since)}


def _failed_list(queue: dict[str, Any]) -> list[dict[str, Any]]:
    """Jobs in RQ's failed list that could not become dead letters (the database was away): one line."""
    failed = int(queue.get("failed") or 0) if isinstance(queue.get("failed"), int) else 0
    if not failed:
        return []
    return [{"id": None, "connection_id": None, "contact_id": None, "job": "rq failed list",
             "error": f"{failed} job(s) failed for good (e.g. while the database was away); "
                      "`cem-connector replay` puts them back", "attempts": None, "at": None}]
