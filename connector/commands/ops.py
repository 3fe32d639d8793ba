"""status, replay, forget, journey-link: day-to-day operations."""

from __future__ import annotations

import json

import click
from rich.table import Table

from adapters.errors import AdapterError

from ..jobs import forget_contact, replay_dead_letters, replay_failed_jobs
from ..runtime import Runtime
from ..status import collect_status
from ..store.models import ContactAnalysis, DeadLetter
from .common import console, pick_connection, runtime, typed_contact_id
from .tables import Column, clip, fitted_table, short_ids


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_command(as_json: bool) -> None:
    """Connections, queue depth, errors (dead letters) and today's API usage."""
    with runtime() as rt:
        status = collect_status(rt)
    if as_json:
        click.echo(json.dumps(status, indent=2, default=str))
        _exit_if_unhealthy(status)
        return
    if status["connections"]:
        console.print(connections_table(status["connections"], console.width))
    else:
        console.print("No connections yet: `cem-connector connect PLATFORM ...` adds one.")
    for c in status["connections"]:
        if c["status"] != "ok":
            console.print(f"[bold red]Connection {c['id']} ({c['platform']}/{c['name']}) is stopped "
                          f"({c['status']}) since {c['status_since']}:[/bold red] {c['status_detail']}\n"
                          f"Fix the credentials and run `cem-connector connect {c['platform']} --name {c['name']} "
                          "...` again; it resumes where it stopped.")
    if "error" in status["queue"]:
        console.print(f"[red]Queue: {status['queue']['error']}[/red]")
    else:
        console.print("Queue: " + ", ".join(f"{k} {v}" for k, v in status["queue"].items()))
    if status["errors"]:
        console.print(errors_table(status["errors"], console.width))
    else:
        console.print("[green]No errors.[/green]")
    _exit_if_unhealthy(status)


CONNECTION_COLUMNS = (
    Column("id", 2), Column("platform", 8), Column("name", 6, priority=3), Column("account", 8, priority=4),
    Column("analysed", 8, priority=1, justify="right"), Column("written", 7, priority=1, justify="right"),
    Column("dead", 4, priority=2, justify="right"), Column("API calls", 5, priority=5, justify="right"),
    Column("webhook URL", 20, priority=6, fold=True),
)
ERROR_COLUMNS = (
    Column("id", 2), Column("connection", 4, priority=2), Column("contact", 9), Column("job", 7, priority=3),
    Column("error", 20, wrap=True), Column("attempts", 3, priority=1, justify="right"),
)


def connections_table(connections: list[dict], width: int) -> Table:  # type: ignore[type-arg]
    accounts = short_ids(str(c["account_id"] or "") for c in connections)
    rows = [(str(c["id"]), c["platform"], c["name"], accounts[str(c["account_id"] or "")], str(c["contacts_analysed"]),
             str(c["contacts_written"]), str(c["dead_letters"]), str(c["api_calls_today"]), c["webhook_url"])
            for c in connections]
    return fitted_table(CONNECTION_COLUMNS, rows, width, title="Connections", more="`status --json` shows them")


def errors_table(errors: list[dict], width: int) -> Table:  # type: ignore[type-arg]
    contacts = short_ids(str(e["contact_id"] or "") for e in errors)
    rows = [(str(e["id"]), str(e["connection_id"]), contacts[str(e["contact_id"] or "")], e["job"],
             clip(e["error"], 300), str(e["attempts"])) for e in errors]
    return fitted_table(ERROR_COLUMNS, rows, width, title="Recent errors (replay with `cem-connector replay`)",
                        more="`status --json` shows them")


def _exit_if_unhealthy(status: dict) -> None:  # type: ignore[type-arg]
    """Monitoring scripts rely on the exit code: non-zero when the queue cannot be reached (an unreachable
    database already fails before anything is printed)."""
    if "error" in status["queue"]:
        raise SystemExit(1)


@click.command("replay")
@click.option("--connection", "connection_id", type=int, help="Only this connection's dead letters.")
@click.option("--id", "letter_id", type=int, help="Only this dead letter.")
def replay_command(connection_id: int | None, letter_id: int | None) -> None:
    """Put dead-lettered jobs back on the queue (after the CRM or credentials are fixed)."""
    with runtime() as rt:
        if letter_id is not None:
            _require_dead_letter(rt, letter_id)
        replayed = replay_dead_letters(rt, connection_id=connection_id, letter_id=letter_id)
        requeued = replay_failed_jobs(rt) if letter_id is None else 0
        replayed += requeued
        console.print(f"Replayed {replayed} dead-lettered job(s)"
                      + (f", {requeued} of them from RQ's failed list." if requeued else ".")
                      if replayed else "Nothing to replay.")


def _require_dead_letter(rt: Runtime, letter_id: int) -> None:
    """`replay --id N` names one letter: a wrong or already replayed id is an error, not "nothing to do"."""
    with rt.store.session() as session:
        letter = session.get(DeadLetter, letter_id)
        replayed_at = letter.replayed_at if letter is not None else None
    if letter is None:
        raise click.ClickException(f"No dead letter {letter_id}: `cem-connector status` lists the dead letters "
                                   "(the errors table's id column).")
    if replayed_at is not None:
        raise click.ClickException(f"Dead letter {letter_id} was already replayed at {replayed_at:%Y-%m-%d %H:%M} "
                                   "UTC; if it failed again, `cem-connector status` shows its new id.")


@click.command("forget")
@click.argument("contact_id")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
def forget_command(contact_id: str, connection_id: int | None) -> None:
    """GDPR: remove everything stored about one contact (analysis, ledger, errors, activity)."""
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        contact_id = typed_contact_id(rt, connection_id, contact_id)
        removed = forget_contact(rt, connection_id, contact_id)
        if removed:
            console.print(f"Forgot contact {contact_id} on connection {connection_id}: {removed} stored rows removed.")
        else:
            console.print(f"Nothing is stored about contact {contact_id} on connection {connection_id}: check the id "
                          "(the CRM's contact id, as `cem-connector status` and the admin page show it).")
        console.print(_crm_record_state(rt, connection_id, contact_id))
    if not removed:
        raise SystemExit(1)


def _crm_record_state(rt: Runtime, connection_id: int, contact_id: str) -> str:
    """Whether the CRM record still holds CEM fields: forget never changes data in the CRM."""
    try:
        values = rt.adapter(connection_id).read_fields([contact_id])
    except AdapterError as error:
        return f"Could not check the CRM record ({type(error).__name__}: {error})."
    if contact_id not in values:
        return f"The CRM has no contact {contact_id}."
    held = [key for key, value in values[contact_id].items() if value not in (None, "")]
    if not held:
        return f"The CRM record {contact_id} holds no CEM fields."
    return (f"The CRM record {contact_id} still holds CEM fields ({', '.join(held)}); forget does not change CRM "
            "data: clear them in the CRM if the person must be erased there too.")


@click.command("journey-link")
@click.argument("contact_id")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
def journey_link_command(contact_id: str, connection_id: int | None) -> None:
    """Print a short-lived signed URL of a contact's journey map (for embedding in the CRM)."""
    from ..app import create_app
    from ..web.auth import sign_journey

    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id)
        contact_id = typed_contact_id(rt, connection_id, contact_id)
        with rt.store.session() as session:
            analysed = session.get(ContactAnalysis, (connection_id, contact_id)) is not None
        if not analysed:
            # a link to a page that can only say "not found" looks valid and wastes the rep's time
            raise click.ClickException(
                f"Contact {contact_id} has not been analysed on connection {connection_id}: check the id (the CRM's "
                f"contact id), or run `cem-connector backfill --connection {connection_id}` first.")
        with create_app(rt).app_context():
            token = sign_journey(connection_id, contact_id)
        click.echo(f"{rt.settings.public_url}/journey/{connection_id}/{contact_id}?token={token}")
