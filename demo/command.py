"""demo: the whole product on this machine, with sandbox CRMs, in one command."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connector.commands.common import console

from .run import emit_all, read_back, start_demo, wait_until_written


@click.command("demo")
@click.option("--platform", "platforms", multiple=True, help="Only these platforms (default: all that are available).")
@click.option("--contacts", default=60, show_default=True, help="Demo contacts per CRM (at least 50 tell all stories).")
@click.option("--serve", is_flag=True, help="Keep everything running afterwards and print the URLs.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cem-connector/demo"),
              show_default=True, help="Where the demo keeps its SQLite database and embedded Redis.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for every contact to be written.")
def demo_command(platforms: tuple[str, ...], contacts: int, serve: bool, data_dir: Path, timeout: int) -> None:
    """Run the whole pipeline on embedded defaults and show the result.

    Starts sandbox CRMs (local stand-ins with the real APIs' paths, signatures and
    limits), connects and provisions them, lets them send signed webhooks for
    their demo contacts, processes them through the queue and a worker, and
    prints the CEM fields read back from the sandbox CRMs' contact records.
    """
    run = start_demo(platform_names=list(platforms) or None, contacts=contacts, data_dir=data_dir,
                     say=console.print)
    try:
        sent = emit_all(run)
        console.print(f"Sandboxes are sending {sent} signed webhook events...")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("Contacts analysed and written back", total=None)
            finished = wait_until_written(run, timeout, lambda done, total: progress.update(task, completed=done,
                                                                                            total=total))
        if not finished:
            raise click.ClickException(f"Not every contact was written within {timeout} s; "
                                       "run `cem-connector status` for errors.")
        elapsed = time.monotonic() - run.started
        rows = read_back(run)
        _print_table(rows)
        matched = sum(1 for r in rows if r.get("expected", {}).get("churn_reason") == r.get("churn_reason"))
        console.print(f"{len(rows)} contacts across {len(run.platforms)} CRM(s) analysed and written back in "
                      f"{elapsed:.1f} s. Churn reason matches the scripted story for {matched} of {len(rows)}.")
        if serve:
            _serve_forever(run)
    finally:
        run.stop()


def _print_table(rows: list[dict]) -> None:  # type: ignore[type-arg]
    for platform in dict.fromkeys(row["platform"] for row in rows):
        table = Table(title=f"{platform}: CEM fields read back from the sandbox CRM's contact records")
        table.add_column("contact", no_wrap=True, min_width=22)
        table.add_column("journey stage", no_wrap=True, min_width=13)
        table.add_column("emotion", no_wrap=True, min_width=16)
        table.add_column("risk", justify="right", no_wrap=True, min_width=4)
        table.add_column("churn reason", no_wrap=True, min_width=20)
        table.add_column("evidence", no_wrap=True, overflow="ellipsis", max_width=70)
        for row in (r for r in rows if r["platform"] == platform):
            score = row.get("emotion_score")
            emotion = f"{score:+.0f} {row.get('emotion', '')}" if isinstance(score, int | float) else "-"
            contact = f"{row['name']} ({_short(row['contact_id'], 12)})"
            table.add_row(contact, str(row.get("journey_stage") or "-"), emotion, str(row.get("churn_risk", "-")),
                          str(row.get("churn_reason") or "-"),
                          _short(row.get("churn_reason_detail") or ""))
        console.print(table)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _serve_forever(run) -> None:  # type: ignore[no-untyped-def]
    url = run.runtime.settings.public_url
    console.print(f"\nAdmin:    {url}/admin/   (user: any, password: {run.runtime.settings.admin_token})")
    for item in run.platforms:
        console.print(f"{item.platform.label}: sandbox {item.sandbox.url}, webhooks {url}/webhooks/"
                      f"{item.platform.name}/{item.connection_id}")
    console.print("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("Stopping.")
