"""backfill and reconcile: bring history in, and heal missed webhooks."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rq import SimpleWorker, Worker
from sqlalchemy import func, select

from ..jobs import reconcile_connection
from ..runtime import Runtime
from ..store import Activity, ContactAnalysis, SyncCursor
from .common import console, pick_connection, runtime


@click.command("backfill")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
@click.option("--since", type=click.DateTime(), help="Only contacts changed since this date.")
@click.option("--restart", is_flag=True, help="Start over instead of resuming where the last run stopped.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until every queued contact is analysed and written.")
def backfill_command(connection_id: int | None, since: datetime | None, restart: bool, wait: bool) -> None:
    """Analyse every existing contact, with a progress bar; resumable after an interruption.

    Contacts go through the same queue as webhooks. When no worker is running,
    this command processes the queue itself.
    """
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        adapter = rt.adapter(connection_id)
        started = datetime.now(UTC)
        cursor_value, processed, total = _resume(rt, connection_id, restart, since)
        queued_ids: list[str] = []
        with _progress() as progress:
            task = progress.add_task("Listing and queueing contacts", total=total, completed=processed)
            cursor = cursor_value
            while True:
                page = adapter.list_contacts(cursor, modified_since=since)
                rt.queue.refreshes.request(connection_id, page.contact_ids)
                queued_ids.extend(page.contact_ids)
                processed += len(page.contact_ids)
                total = page.total or total
                _save(rt, connection_id, page.next_cursor, processed, total, since)
                progress.update(task, completed=processed, total=total or processed)
                if not page.next_cursor:
                    break
                cursor = page.next_cursor
        console.print(f"Queued {len(queued_ids)} contacts ({processed} in all for this backfill).")
        if not wait or not queued_ids:
            if queued_ids:
                console.print("Workers analyse them now; `cem-connector status` shows progress and errors.")
            return
        _wait_for_analysis(rt, connection_id, queued_ids, started)
        summary = backfill_summary(rt, connection_id, started, len(queued_ids))
    console.print(f"Backfill finished: {summary['read']} contacts read, {summary['written']} written, "
                  f"{summary['unchanged']} unchanged, {summary['failed']} failed"
                  + (f", {summary['pending']} still in progress" if summary["pending"] else "") + ".")
    if summary["failed"]:
        console.print("Failed contacts are listed by `cem-connector status`; fix the cause, then "
                      "`cem-connector replay` retries them.")
        raise SystemExit(1)


def backfill_summary(rt: Runtime, connection_id: int, started: datetime, read: int) -> dict[str, int]:
    """Each contact's latest outcome since the backfill started (written, unchanged or failed)."""
    with rt.store.session() as session:
        rows = session.execute(select(Activity.contact_id, Activity.action).where(
            Activity.connection_id == connection_id, Activity.at >= started,
            Activity.action.in_(("written", "unchanged", "failed"))).order_by(Activity.id)).all()
    latest = {contact_id: action for contact_id, action in rows}
    counts = {action: sum(1 for a in latest.values() if a == action) for action in ("written", "unchanged", "failed")}
    return {"read": read, **counts, "pending": max(0, read - len(latest))}


def _resume(rt: Runtime, connection_id: int, restart: bool,
            since: datetime | None) -> tuple[str | None, int, int | None]:
    with rt.store.session() as session:
        row = session.get(SyncCursor, (connection_id, "backfill"))
        if row is None or restart or row.status == "done":
            if row is not None:
                session.delete(row)
            return None, 0, None
        console.print(f"Resuming the previous backfill after {row.processed} contacts (use --restart to begin again).")
        return row.cursor, row.processed, row.total


def _save(rt: Runtime, connection_id: int, cursor: str | None, processed: int, total: int | None,
          since: datetime | None) -> None:
    with rt.store.session() as session:
        row = session.get(SyncCursor, (connection_id, "backfill"))
        if row is None:
            row = SyncCursor(connection_id=connection_id, kind="backfill")
            session.add(row)
        row.cursor, row.processed, row.total, row.since = cursor, processed, total, since
        row.status = "running" if cursor else "done"


def _wait_for_analysis(rt: Runtime, connection_id: int, contact_ids: list[str], started: datetime) -> None:
    own_worker = not Worker.all(queue=rt.queue.rq)
    with _progress() as progress:
        task = progress.add_task("Analysing and writing back", total=len(contact_ids))
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if own_worker:
                SimpleWorker([rt.queue.rq], connection=rt.redis).work(burst=True, with_scheduler=True,
                                                                      logging_level="WARNING")
            done = _analysed_since(rt, connection_id, started)
            progress.update(task, completed=min(done, len(contact_ids)))
            depth = rt.queue.depth()
            if depth["queued"] == 0 and depth["started"] == 0 and depth["scheduled"] == 0:
                break
            time.sleep(0.2 if own_worker else 1.0)
        progress.update(task, completed=len(contact_ids))


def _analysed_since(rt: Runtime, connection_id: int, started: datetime) -> int:
    with rt.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(ContactAnalysis).where(
            ContactAnalysis.connection_id == connection_id, ContactAnalysis.analyzed_at >= started)) or 0)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


@click.command("reconcile")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
def reconcile_command(connection_id: int | None) -> None:
    """Ask the CRM what changed since the last round and refresh those contacts now."""
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        rt.queue.enqueue(reconcile_connection, 0, connection_id)
        console.print(f"Reconcile of connection {connection_id} queued; a worker will pick it up.")
