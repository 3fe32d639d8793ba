"""Worker throughput on single-event deliveries (Dataverse sends one record per request), one worker
process against two, side by side on the same machine, each configuration run several times.

Each run: a whole loopback connector (``tests.faults.world.World``, HubSpot sandbox with its limits
opened wide, PostgreSQL as in production: SQLite would serialise the two workers' transactions), N
single-event deliveries accepted onto the queue while the workers are suspended, then K
``cem-connector worker`` processes resumed together; the clock runs from resume until the queue is
empty and every contact is written, so worker start-up is outside it and the refresh fill window
(about a second) is a small share of it at the default size.

Beside events/s, CPU seconds from /proc for the measured window: the workers' (per event: the cost
of the connector itself, whatever else runs on the machine), this process's (the sandbox CRM and the
drain poll), Redis's and PostgreSQL's backends'. When all of them together keep both cores busy, two workers cannot be
twice one on this machine whatever the connector does; the CPU-per-event column shows whether a
second worker adds work per event (contention) or only shares it.

    python -m bench.workers [--events N] [--contacts N] [--runs N]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rq import Worker
from rq.suspension import resume, suspend

from sandbox.dataset import demo_records
from tests.faults.world import World
from webhooks.events import CONTACT_CHANGED, ChangeEvent

WIDE_OPEN = {"rate_limit": 1_000_000}
DRAIN_SECONDS = 300.0
PG_URL = os.environ.get("CEM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    workers: int
    seconds: float
    events: int
    written: int
    worker_cpu: float  # seconds, all worker processes, measured window only
    own_cpu: float  # this process: the sandbox CRM's threads and the drain poll
    redis_cpu: float
    postgres_cpu: float  # the backends serving this run's connections

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cores_busy(self) -> float:
        return (self.worker_cpu + self.own_cpu + self.redis_cpu + self.postgres_cpu) / self.seconds


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _redis_cpu(world: World) -> float:
    info = world.runtime.redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _postgres_cpu(name: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving connections named ``name`` (application_name)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    try:
        with admin.connect() as connection:
            pids = connection.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                                      {"n": name}).scalars().all()
    finally:
        admin.dispose()
    found = {}
    for pid in pids:
        try:
            found[pid] = _cpu_of(pid)
        except OSError:  # the backend ended meanwhile
            continue
    return found


@contextmanager
def postgres_schema(name: str) -> Iterator[str]:
    """A fresh schema in the `test` database, upgraded, dropped afterwards; connections named ``name``."""
    from sqlalchemy import create_engine, text

    from connector.store import Store

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?application_name={name}&options=-csearch_path%3D{schema}"
    store = Store(url)
    store.upgrade()
    store.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(workers: int, events: int, contacts: int) -> Run:
    directory = Path(tempfile.mkdtemp(prefix=f"cem-bench-workers-{workers}-"))
    name = f"cem-bench-{uuid.uuid4().hex[:8]}"
    with postgres_schema(name) as database_url:
        world = World("hubspot", directory, demo_records(contacts), sandbox_options=WIDE_OPEN,
                      extra_env={"DATABASE_URL": database_url})
        try:
            return _measure(world, workers, events, name)
        finally:
            world.close()


def _measure(world: World, workers: int, events: int, name: str) -> Run:
    ids = world.contact_ids()
    queue = world.runtime.queue
    suspend(world.runtime.redis)
    # A fresh Redis has no data marker: the first worker would reconcile every contact (a data-loss
    # recovery, not the workload measured here).
    world.runtime.redis.set(queue.keys.data_marker, "bench")
    now = datetime.now(UTC)
    for n in range(events):
        queue.deliveries.accept(world.connection_id, [ChangeEvent(
            platform="hubspot", event_id=f"bench:{n}", kind=CONTACT_CHANGED, object_type="contact",
            object_id=ids[n % len(ids)], occurred_at=now, account_id=None)])
    processes = [world.spawn_worker() for _ in range(workers)]
    deadline = time.monotonic() + 60
    while len(Worker.all(queue=queue.rq)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # let start-up finish (imports, first connections) before the clock runs
    before = [_cpu_of(p.pid) for p in processes]
    postgres = _postgres_cpu(name)
    own, redis_before = time.process_time(), _redis_cpu(world)
    started = time.monotonic()
    resume(world.runtime.redis)
    world.drain(timeout=DRAIN_SECONDS, inline=False,
                until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
    seconds = time.monotonic() - started
    worker_cpu = sum(_cpu_of(p.pid) for p in processes) - sum(before)
    postgres_cpu = sum(cpu - postgres.get(pid, 0.0) for pid, cpu in _postgres_cpu(name).items())
    return Run(workers, seconds, events, sum(1 for c in ids if world.writes.of(c)), worker_cpu,
               time.process_time() - own, _redis_cpu(world) - redis_before, postgres_cpu)


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration, alternating (median, spread)")
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    console = Console(width=None if sys.stdout.isatty() else 160)
    load = os.getloadavg()
    results: dict[int, list[Run]] = {1: [], 2: []}
    for round_ in range(args.runs):
        for count in (1, 2):  # alternate, so drift in the machine's load hits both alike
            with console.status(f"run {round_ + 1}/{args.runs}: {count} worker(s)..."):
                results[count].append(run(count, args.events, args.contacts))
    table = Table(title=f"Workers: {args.events:,} single-event deliveries over {args.contacts:,} contacts (HubSpot "
                        f"sandbox, PostgreSQL, loopback); median (min-max) of {args.runs} runs; load average "
                        f"{load[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    for column in ("worker processes", "events/s", "events/s per worker", "ratio vs 1 worker (medians)",
                   "worker CPU ms/event", "sandbox CRM + bench, cores", "PostgreSQL, cores",
                   "cores busy (of 2)", "contacts written"):
        table.add_column(column, justify="right")
    base = statistics.median(r.rate for r in results[1])
    for count, runs in results.items():
        rates = [r.rate for r in runs]
        table.add_row(str(count) + (" (baseline)" if count == 1 else ""), _spread(rates, ",.0f"),
                      _spread([x / count for x in rates], ",.0f"), f"{statistics.median(rates) / base:.2f}",
                      _spread([1000 * r.worker_cpu / r.events for r in runs], ".2f"),
                      _spread([r.own_cpu / r.seconds for r in runs], ".2f"),
                      _spread([r.postgres_cpu / r.seconds for r in runs], ".2f"),
                      _spread([r.cores_busy for r in runs], ".2f"),
                      f"{min(r.written for r in runs)}/{args.contacts}")
    console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
