"""status, replay, forget, journey-link: day-to-day operations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from rich.table import Table
from sqlalchemy import select

from ..jobs import forget_contact, replay_dead_letter, replay_failed_jobs
from ..status import collect_status
from ..store import DeadLetter
from .common import console, pick_connection, runtime


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_command(as_json: bool) -> None:
    """Connections, queue depth, errors (dead letters) and today's API usage."""
    with runtime() as rt:
        status = collect_status(rt)
    if as_json:
        click.echo(json.dumps(status, indent=2, default=str))
        return
    table = Table(title="Connections")
    for column in ("id", "platform", "name", "account", "analysed", "written", "dead letters", "API calls today",
                   "webhook URL"):
        table.add_column(column)
    for c in status["connections"]:
        table.add_row(str(c["id"]), c["platform"], c["name"], c["account_id"] or "", str(c["contacts_analysed"]),
                      str(c["contacts_written"]), str(c["dead_letters"]), str(c["api_calls_today"]), c["webhook_url"])
    console.print(table)
    for c in status["connections"]:
        if c["status"] != "ok":
            console.print(f"[bold red]Connection {c['id']} ({c['platform']}/{c['name']}) is stopped "
                          f"({c['status']}) since {c['status_since']}:[/bold red] {c['status_detail']}\n"
                          f"Fix the credentials and run `cem-connector connect {c['platform']} --name {c['name']} "
                          "...` again; it resumes where it stopped.")
    console.print("Queue: " + ", ".join(f"{k} {v}" for k, v in status["queue"].items()))
    if status["errors"]:
        errors = Table(title="Recent errors (replay with `cem-connector replay`)")
        for column in ("id", "connection", "contact", "job", "error", "attempts"):
            errors.add_column(column)
        for e in status["errors"]:
            errors.add_row(str(e["id"]), str(e["connection_id"]), e["contact_id"] or "", e["job"], e["error"],
                           str(e["attempts"]))
        console.print(errors)
    else:
        console.print("[green]No errors.[/green]")


@click.command("replay")
@click.option("--connection", "connection_id", type=int, help="Only this connection's dead letters.")
@click.option("--id", "letter_id", type=int, help="Only this dead letter.")
def replay_command(connection_id: int | None, letter_id: int | None) -> None:
    """Put dead-lettered jobs back on the queue (after the CRM or credentials are fixed)."""
    with runtime() as rt:
        replayed = 0
        with rt.store.session() as session:
            query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
            if connection_id is not None:
                query = query.where(DeadLetter.connection_id == connection_id)
            if letter_id is not None:
                query = query.where(DeadLetter.id == letter_id)
            for letter in session.scalars(query):
                replay_dead_letter(rt, letter)
                letter.replayed_at = datetime.now(UTC)
                replayed += 1
        requeued = replay_failed_jobs(rt) if letter_id is None else 0
        replayed += requeued
        console.print(f"Replayed {replayed} dead-lettered job(s)"
                      + (f", {requeued} of them from RQ's failed list." if requeued else ".")
                      if replayed else "Nothing to replay.")


@click.command("forget")
@click.argument("contact_id")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
def forget_command(contact_id: str, connection_id: int | None) -> None:
    """GDPR: remove everything stored about one contact (analysis, ledger, errors, activity)."""
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        removed = forget_contact(rt, connection_id, contact_id)
        console.print(f"Forgot contact {contact_id} on connection {connection_id}: {removed} stored rows removed.")


@click.command("journey-link")
@click.argument("contact_id")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
def journey_link_command(contact_id: str, connection_id: int | None) -> None:
    """Print a short-lived signed URL of a contact's journey map (for embedding in the CRM)."""
    from ..app import create_app
    from ..web.auth import sign_journey

    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        with create_app(rt).app_context():
            token = sign_journey(connection_id, contact_id)
        click.echo(f"{rt.settings.public_url}/journey/{connection_id}/{contact_id}?token={token}")
