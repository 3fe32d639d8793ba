"""Scenario 13.2: PostgreSQL goes away for 40 seconds (a failover, a restart) under a running worker.

The connector's database is the real PostgreSQL, reached through a loopback proxy the scenario cuts.
Webhooks acknowledged before the outage wait in Redis; a worker process starts on them while the
database is away. Expected: webhooks that arrive during the outage get 503 with Retry-After (the CRM
retries; Dataverse does not retry a 500) and no stack trace; every job rides the outage out (its
retry budget lasts minutes, not the 36 s of three quick retries) or, failing for good, becomes a dead
letter that `status` shows and `replay` puts back. After the outage every change is applied, once.
The database path is the same for every CRM, so the row runs on Dataverse, the CRM that never retries
a 500 (its async webhooks retry once, on 502/503/504 only).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from connector.store import Store
from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .story import exchange_contact_ids, first_sync, send_email
from .tcp_proxy import TcpProxy
from .webhook_http import post, real_delivery_body
from .world import scenario_world

PG_URL = os.environ.get("CEM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
OUTAGE = 40.0


def run(platform: str, directory: Path, contacts: int = 4) -> Row:
    row = Row("13.2 PostgreSQL away 40 s", platform)
    started = time.monotonic()
    records = demo_records(contacts)
    with _schema() as (schema, host, port), closing(TcpProxy((host, port))) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test?options=-csearch_path%3D{schema}"
        store = Store(url)
        store.upgrade()  # the release phase (`cem-connector migrate`); processes only check the schema
        store.dispose()
        with scenario_world(row, platform, directory, records, extra_env={"DATABASE_URL": url},
                            started=started) as world:
            ids = world.contact_ids()
            row.sent = first_sync(world)
            before = {c: len(world.writes.of(c)) for c in ids}
            world.runtime.redis.set(world.runtime.queue.keys.data_marker, "faults")  # no start-up reconcile
            worker = world.spawn_worker()
            time.sleep(3.0)  # started, with its database connections
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                for exchange_id in exchange_contact_ids(records):
                    row.sent += send_email(world, exchange_id, "db")
                world.wait_deliveries(timeout=30)  # acknowledged, waiting in Redis
                probe_body = real_delivery_body(world)
                proxy.cut()
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            time.sleep(3.0)
            world.app.extensions["cem_targets"].clear()  # the 5 s cache of connection secrets has run out
            answer = post(world, probe_body)
            time.sleep(max(0.0, OUTAGE - 3.0))
            proxy.restore()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(len(world.writes.of(c)) > before[c] for c in ids):
                time.sleep(0.5)
            failed = world.runtime.queue.depth().get("failed", 0)
            check = check_contacts(world, ids)
            unhealed = {c for c in ids if len(world.writes.of(c)) <= before[c]}
            row.applied = len(set(check.applied) - unhealed)
            row.lost = len(set(check.lost) | unhealed)
            row.duplicates = world.writes.noop_writes()
            traceback_shown = "Traceback" in answer.body or 'File "' in answer.body
            row.ok = (row.lost == 0 and row.duplicates == 0 and answer.status == 503 and not traceback_shown
                      and failed == 0)
            trace = " with a stack trace" if traceback_shown else ""
            applied = len(ids) - len(unhealed)
            row.detail = (f"webhook during the outage: {answer.status}{trace}; {applied}/{len(ids)} acknowledged "
                          f"changes applied after it, {failed} job(s) left in RQ's failed list")
    return row


@contextmanager
def _schema() -> Iterator[tuple[str, str, int]]:
    engine = create_engine(PG_URL)
    schema = f"faults_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema, engine.url.host or "127.0.0.1", int(engine.url.port or 5432)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

