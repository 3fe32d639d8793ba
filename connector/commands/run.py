"""serve, worker, scheduler: the long-running processes of the Procfile."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import replace

import click

from ..config import Settings
from ..logs import configure_logging
from ..redis_conn import require_reachable
from ..store import Store, display_url
from ..worker import CEMWorker, flush_usage_on_stop
from .common import console, runtime

log = logging.getLogger("cem.run")


@click.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema to this version (run once per deploy).

    \b
    Safe to run at any time and from several machines at once: on PostgreSQL it takes an advisory
    lock, so concurrent runs wait for each other, and a schema already up to date is left alone.
    web, worker and scheduler refuse to start on a PostgreSQL schema that is not migrated.
    Procfile platforms run it in the release phase (`release: cem-connector migrate`).
    """
    settings = Settings.from_env()
    store = Store(settings.database_url)
    try:
        before, head = store.upgrade()
    finally:
        store.dispose()
    where = display_url(settings.database_url)
    if before == head:
        console.print(f"Database {where} is already at migration {head}; nothing to do.")
    else:
        console.print(f"Database {where} migrated from {'an empty schema' if before is None else before} "
                      f"to {head}.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Run the web app (webhooks, admin, journey views) with the development server.

    In production use the Procfile's `web` process (gunicorn).
    """
    from ..app import create_app
    from ..web.security import QuietRequestHandler

    with runtime() as rt:
        if not os.environ.get("CEM_PUBLIC_URL"):
            # signatures, webhook URLs and journey links name the port really served
            rt.settings = replace(rt.settings, public_url=f"http://{host}:{port}")
        app = create_app(rt)
        console.print(f"Webhooks:  http://{host}:{port}/webhooks/<platform>/<connection id>")
        console.print(f"Admin:     http://{host}:{port}/admin/  (sign in with CEM_ADMIN_TOKEN)")
        app.run(host=host, port=port, threaded=True, request_handler=QuietRequestHandler)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (for scripts and tests).")
def worker_command(burst: bool) -> None:
    """Process queued jobs: read contacts, analyse them, write CEM fields back.

    Run as many workers as you like, on as many machines as share the Redis.
    """
    with runtime() as rt:
        require_reachable(rt.redis)  # one line naming the problem, before rq's own start-up noise
        configure_logging(rt.settings.log_level)
        # A SimpleWorker (jobs in-process, no fork per job) that also heartbeats, so a peer killed
        # mid-job is noticed in seconds and its jobs retried (see connector/worker.py); jobs are idempotent.
        worker = CEMWorker([rt.queue.rq], connection=rt.redis, maintenance_interval=30, keys=rt.queue.keys,
                           ledger=rt.queue.writes, deliveries=rt.queue.deliveries)
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level=rt.settings.log_level)
        finally:
            flush_usage_on_stop(rt)


@click.command("scheduler")
@click.option("--interval", type=int, help="Seconds between reconcile rounds (default: CEM_RECONCILE_INTERVAL).")
@click.option("--rounds", type=int, default=0, help="Stop after this many rounds (0: run until stopped).")
def scheduler_command(interval: int | None, rounds: int) -> None:
    """Periodically enqueue a reconcile of every connection, to heal missed webhooks."""
    from ..connections import list_connections
    from ..jobs import reconcile_connection

    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    every = interval or Settings.from_env().reconcile_interval
    done = 0
    with runtime() as rt:
        require_reachable(rt.redis)
        while not stop:
            for row in list_connections(rt.store):
                if row.active:
                    rt.queue.enqueue(reconcile_connection, 0, row.id)
            done += 1
            console.print(f"reconcile round {done} queued")
            if rounds and done >= rounds:
                return
            deadline = time.monotonic() + every
            while not stop and time.monotonic() < deadline:
                time.sleep(min(1.0, every))
