"""Reading ahead (``connector.prefetch``): the next refresh job is read while this one is analysed, on the
HubSpot sandbox over HTTP with a real Redis queue and RQ worker. The job stays queued until it runs, and
what the read ahead returns for a person forgotten meanwhile is never stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from connector import prefetch
from connector.connections import create_connection
from connector.jobs import forget_contact
from connector.queue.keys import REFRESH_CONTACTS
from connector.store import ContactAnalysis
from sandbox.dataset import demo_records


@pytest.fixture
def world(runtime_factory: Any, redis_server_url: str) -> Iterator[tuple[Any, Any, int]]:
    from sandbox.hubspot import HubSpotSandbox

    box = HubSpotSandbox()
    box.start()
    box.seed(demo_records(6))
    rt = runtime_factory(redis_server_url)
    settings, credentials = box.connection_settings()
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="p", settings=settings,
                                      credentials=credentials)
    yield rt, box, connection_id
    rt.queue.rq.empty()
    box.stop()


def run_one_job(rt: Any) -> None:
    SimpleWorker([rt.queue.rq], connection=rt.redis).work(burst=True, max_jobs=1, logging_level="WARNING")


def analysed(rt: Any, connection_id: int) -> dict[str, Any]:
    with rt.store.session() as session:
        return {s.contact_id: s.read_at for s in session.scalars(select(ContactAnalysis).where(
            ContactAnalysis.connection_id == connection_id, ContactAnalysis.desired.is_not(None)))}


def test_the_next_refresh_is_read_while_this_one_is_analysed(world: tuple[Any, Any, int]) -> None:
    rt, box, connection_id = world
    ids = sorted(box.contact_ids())
    first, second = ids[:3], ids[3:]
    rt.queue.enqueue(REFRESH_CONTACTS, 0, connection_id, first)
    rt.queue.enqueue(REFRESH_CONTACTS, 0, connection_id, second)
    next_job = rt.queue.rq.get_job_ids()[1]
    run_one_job(rt)  # the first refresh
    ahead = prefetch._ahead
    assert ahead is not None and ahead.job_id == next_job and ahead.contact_ids == set(second)
    assert set(ahead.result.result(timeout=60)) == set(second)  # read before its job ran
    assert next_job in rt.queue.rq.get_job_ids()  # still queued: a worker dying now loses nothing
    while rt.queue.rq.get_job_ids()[0] != next_job:  # the flush the first refresh asked for
        run_one_job(rt)
    calls = rt.adapter(connection_id).api_usage()["calls"]
    run_one_job(rt)  # the second refresh takes the read made ahead
    assert rt.adapter(connection_id).api_usage()["calls"] == calls  # no second read of those contacts
    assert set(analysed(rt, connection_id)) == set(ids)


def test_a_person_forgotten_after_the_read_ahead_is_not_stored(world: tuple[Any, Any, int]) -> None:
    rt, box, connection_id = world
    ids = sorted(box.contact_ids())
    rt.queue.enqueue(REFRESH_CONTACTS, 0, connection_id, ids[:3])
    rt.queue.enqueue(REFRESH_CONTACTS, 0, connection_id, ids[3:])
    run_one_job(rt)
    assert prefetch._ahead is not None and ids[4] in prefetch._ahead.result.result(timeout=60)
    forget_contact(rt, connection_id, ids[4])  # the admin runs `forget` while the next job waits
    SimpleWorker([rt.queue.rq], connection=rt.redis).work(burst=True, logging_level="WARNING")
    stored = analysed(rt, connection_id)
    assert ids[4] not in stored and set(stored) == set(ids) - {ids[4]}
