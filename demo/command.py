"""demo: the whole product on this machine, with sandbox CRMs, in one command."""

from __future__ import annotations

import shlex
import signal
import time
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cem_engine import CEMEngineError, load_config
from connector.commands.common import console
from connector.commands.tables import Column, clip, fitted_table, short_ids

from .run import DEMO_ENGINE_CONFIG, StoryMatch, emit_all, read_back, start_demo, story_matches, wait_until_written


@click.command("demo")
@click.option("--platform", "platforms", multiple=True, help="Only these platforms (default: all that are available).")
@click.option("--contacts", default=60, show_default=True, help="Demo contacts per CRM (at least 50 tell all stories).")
@click.option("--serve", is_flag=True, help="Keep everything running afterwards and print the URLs.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cem-connector/demo"),
              show_default=True, help="Where the demo keeps its SQLite database and embedded Redis.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for every contact to be written.")
@click.option("--port", default=0, show_default=True, help="Port of the connector's web app (0: a free one).")
@click.option("--engine-config", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=DEMO_ENGINE_CONFIG, show_default=True,
              help="Engine config TOML for the demo. The default adds the churn reason late_delivery, as an admin "
                   "would; the data set then has 3 more contacts per CRM whose story is a late delivery.")
def demo_command(platforms: tuple[str, ...], contacts: int, serve: bool, data_dir: Path, timeout: int,
                 port: int, engine_config: Path) -> None:
    """Run the whole pipeline on embedded defaults and show the result.

    Starts sandbox CRMs (local stand-ins with the real APIs' paths, signatures and
    limits), connects and provisions them, lets them send signed webhooks for
    their demo contacts, processes them through the queue and a worker, and
    prints the CEM fields read back from the sandbox CRMs' contact records.
    """
    _stop_on_signals()
    try:
        load_config(engine_config)  # a typo in the file must stop the demo before anything starts
    except CEMEngineError as exc:
        raise click.ClickException(str(exc)) from exc
    run = start_demo(platform_names=list(platforms) or None, contacts=contacts, data_dir=data_dir,
                     say=console.print, port=port, engine_config=engine_config)
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
        console.print(f"{len(rows)} contacts across {len(run.platforms)} CRM(s) analysed and written back in "
                      f"{elapsed:.1f} s.")
        _print_story(story_matches(rows, added_reasons=run.added_reasons), run.added_reasons)
        if serve:
            _serve_forever(run)
        else:
            _print_where_the_data_is(run)
    finally:
        run.stop()


DEMO_COLUMNS = (
    Column("contact", 12), Column("journey stage", 8), Column("emotion", 9, priority=2), Column("risk", 4),
    Column("churn reason", 12, priority=1), Column("evidence", 16, priority=3, wrap=True),
)


def _print_table(rows: list[dict]) -> None:  # type: ignore[type-arg]
    for platform in dict.fromkeys(row["platform"] for row in rows):
        console.print(demo_table(platform, [r for r in rows if r["platform"] == platform], console.width))


def demo_table(platform: str, rows: list[dict], width: int) -> Table:  # type: ignore[type-arg]
    ids = short_ids(row["contact_id"] for row in rows)
    cells = []
    for row in rows:
        score = row.get("emotion_score")
        emotion = f"{score:+.0f} {row.get('emotion', '')}" if isinstance(score, int | float) else "-"
        cells.append((f"{row['name']}\n{ids[row['contact_id']]}", str(row.get("journey_stage") or "-"), emotion,
                      str(row.get("churn_risk", "-")), str(row.get("churn_reason") or "-"),
                      clip(row.get("churn_reason_detail") or "", 160)))
    table = fitted_table(DEMO_COLUMNS, cells, width,
                         title=f"{platform}: CEM fields read back from the sandbox CRM's contact records",
                         more="each contact's journey map shows them: `cem-connector journey-link`, see below")
    table.show_lines = True  # rows span two lines (name, id)
    return table


def _print_story(matches: list[StoryMatch], added_reasons: tuple[str, ...] = ()) -> None:
    """The closing lines: per CRM, how many contacts ended with the scripted stage and churn reason (and, of
    those whose story is a reason the engine config added, how many show that reason), then every difference,
    one a line (rich wraps them at words, whatever the terminal's width)."""
    added = f" (admin-added {', '.join(added_reasons)}: " if added_reasons else ""
    console.print("Matches the scripted story:")
    for m in matches:
        console.print(f"  {m.label}: journey stage {m.stage}/{m.contacts}, churn reason {m.reason}/{m.contacts}"
                      + (f"{added}{m.added_reason}/{m.added})" if added_reasons else ""))
    for m in matches:
        if m.misses:
            console.print(f"{m.label} differs from the story for {len(m.misses)} value(s):")
        for miss in m.misses:
            console.print(f"  [dim]{miss}[/dim]")


def _print_where_the_data_is(run) -> None:  # type: ignore[no-untyped-def]
    """The demo keeps its data in its own directory: a plain `cem-connector status` (./.cem-connector) would say
    "No connections yet", so say how to look at it."""
    directory = shlex.quote(str(run.data_dir))
    console.print(f"\nThe demo's data stays in {directory}. To look at it with the CLI:")
    console.print(f"  export CEM_DATA_DIR={directory}", soft_wrap=True)  # a command to copy: never broken
    console.print("  cem-connector status")
    console.print("Each contact's journey map (emotion and evidence, interaction by interaction) needs the demo's "
                  "web app and sandbox CRMs running: `cem-connector demo --serve` prints a `cem-connector "
                  "journey-link` command and the admin page; `cem-connector analyze FILE.jsonl` explains any "
                  "exported contact the same way.")


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed terminal, `kill`) stop the demo like Ctrl-C: the `finally` then stops
    the worker process, the sandboxes and the embedded Redis instead of leaving them running."""

    def stop(signum: int, _frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not interrupt the clean-up
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def _serve_forever(run) -> None:  # type: ignore[no-untyped-def]
    url = run.runtime.settings.public_url
    console.print(f"\nAdmin:    {url}/admin/   (user: any, password: {run.runtime.settings.admin_token})")
    for item in run.platforms:
        console.print(f"{item.platform.label}: sandbox {item.sandbox.url}, webhooks {url}/webhooks/"
                      f"{item.platform.name}/{item.connection_id}", soft_wrap=True)
    example = run.platforms[0] if run.platforms else None
    console.print("\nThe CLI sees this demo's data (same database, Redis and keys) with, in another terminal:")
    console.print(f"  export CEM_DATA_DIR={shlex.quote(str(run.data_dir))} CEM_PUBLIC_URL={url}", soft_wrap=True)
    console.print("  cem-connector status", soft_wrap=True)
    if example and example.contact_ids:
        console.print(f"  cem-connector journey-link --connection {example.connection_id} {example.contact_ids[0]}",
                      soft_wrap=True)
    console.print("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("Stopping.")
