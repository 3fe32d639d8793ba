"""serve, worker, scheduler: the long-running processes of the Procfile."""

from __future__ import annotations

import logging
import signal
import time

import click

from ..app import configure_logging
from ..config import Settings
from ..worker import CEMWorker
from .common import console, runtime

log = logging.getLogger("cem.run")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Run the web app (webhooks, admin, journey views) with the development server.

    In production use the Procfile's `web` process (gunicorn).
    """
    from ..app import create_app

    with runtime() as rt:
        app = create_app(rt)
        console.print(f"Webhooks:  http://{host}:{port}/webhooks/<platform>/<connection id>")
        console.print(f"Admin:     http://{host}:{port}/admin/  (password: CEM_ADMIN_TOKEN)")
        app.run(host=host, port=port, threaded=True)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (for scripts and tests).")
def worker_command(burst: bool) -> None:
    """Process queued jobs: read contacts, analyse them, write CEM fields back.

    Run as many workers as you like, on as many machines as share the Redis.
    """
    with runtime() as rt:
        configure_logging(rt.settings.log_level)
        # A SimpleWorker (jobs in-process, no fork per job) that also heartbeats, so a peer killed
        # mid-job is noticed in seconds and its jobs retried (see connector/worker.py); jobs are idempotent.
        worker = CEMWorker([rt.queue.rq], connection=rt.redis, maintenance_interval=30, keys=rt.queue.keys,
                           ledger=rt.queue.writes, deliveries=rt.queue.deliveries)
        worker.work(burst=burst, with_scheduler=True, logging_level=rt.settings.log_level)


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
