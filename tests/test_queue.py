"""Dedupe and coalescing on a real Redis: at-least-once in, one job per change out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from connector.queue import JobQueue
from connector.redis_conn import QueueUnavailable
from connector.retry import backoff_delay
from webhooks.events import ChangeEvent


def event(event_id: str, contact: str = "1") -> ChangeEvent:
    return ChangeEvent(platform="hubspot", event_id=event_id, kind="contact.changed", object_type="contact",
                       object_id=contact, occurred_at=datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def queue(redis_server_url: str) -> JobQueue:
    import uuid

    connection = redis.Redis.from_url(redis_server_url)
    q = JobQueue(connection, f"test-{uuid.uuid4().hex[:8]}")
    yield q
    q.rq.empty()
    for key in connection.scan_iter(f"{q.prefix}*"):
        connection.delete(key)


def test_a_repeated_delivery_is_accepted_once(queue: JobQueue) -> None:
    assert queue.deliveries.accept(991, [event("a"), event("b")]) == 2
    assert queue.deliveries.accept(991, [event("a"), event("b"), event("c")]) == 1
    assert queue.deliveries.accept(991, [event("c"), event("c")]) == 0
    assert queue.rq.count == 2  # two deliveries with new events -> two jobs


def test_duplicates_inside_one_delivery_count_once(queue: JobQueue) -> None:
    assert queue.deliveries.accept(992, [event("x"), event("x"), event("y")]) == 2


def test_refresh_requests_coalesce_until_the_job_starts(queue: JobQueue) -> None:
    assert queue.refreshes.request(993, ["7"]) == 1
    assert queue.refreshes.request(993, ["7", "7"]) == 0
    assert queue.refreshes.request(993, ["8", "7"]) == 1
    assert queue.rq.count == 1  # one collector for everything that arrived before it runs
    assert queue.refreshes.hand_out(993) == 2
    queue.refreshes.started(993, ["7", "8"])
    assert queue.refreshes.request(993, ["7"]) == 1
    assert [job.func_name.rsplit(".", 1)[-1] for job in queue.rq.jobs] == [
        "collect_refreshes", "refresh_contacts", "collect_refreshes"]


def test_refreshes_are_batched_per_job(queue: JobQueue) -> None:
    from connector.queue import REFRESH_BATCH

    # one webhook per record, as Dataverse sends them: they still end up in full batches
    for i in range(REFRESH_BATCH * 2 + 1):
        assert queue.refreshes.request(995, [str(i)]) == 1
    assert queue.rq.count == 1
    assert queue.refreshes.hand_out(995) == REFRESH_BATCH * 2 + 1
    refreshes = [job for job in queue.rq.jobs if job.func_name.endswith("refresh_contacts")]
    assert sorted(len(job.args[1]) for job in refreshes) == [1, REFRESH_BATCH, REFRESH_BATCH]
    assert sorted(cid for job in refreshes for cid in job.args[1]) == sorted(str(i) for i in range(101))


def test_dirty_contacts_stay_marked_until_written(queue: JobQueue) -> None:
    queue.writes.mark_dirty(994, [str(i) for i in range(250)])
    first = queue.writes.peek_dirty(994, 100)
    assert len(first) == 100
    assert queue.writes.dirty_count(994) == 250  # a crash before the write loses nothing
    queue.writes.written(994, first)
    assert queue.writes.dirty_count(994) == 150
    assert not set(first) & set(queue.writes.peek_dirty(994, 200))


def test_a_down_redis_raises_queue_unavailable() -> None:
    dead = JobQueue(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), "x")
    with pytest.raises(QueueUnavailable):
        dead.deliveries.accept(1, [event("z")])


def test_backoff_honours_retry_after_and_grows() -> None:
    assert backoff_delay(1, 2.0, retry_after=30) >= 30
    assert backoff_delay(5, 2.0) > backoff_delay(1, 2.0)
    assert backoff_delay(40, 2.0) <= 3600 * 1.2


def test_forget_removes_failed_job_records_naming_the_person(queue: JobQueue) -> None:
    from rq.registry import FailedJobRegistry

    events = [{"object_id": "77", "contact_ids": []}]
    mine = queue.rq.enqueue("connector.jobs.process_events", 996, events)
    refresh = queue.rq.enqueue("connector.jobs.refresh_contacts", 996, ["12", "77"])
    other = queue.rq.enqueue("connector.jobs.process_events", 996, [{"object_id": "78", "contact_ids": ["79"]}])
    elsewhere = queue.rq.enqueue("connector.jobs.refresh_contacts", 997, ["77"])  # same id, another connection
    registry = FailedJobRegistry(queue=queue.rq)
    for job in (mine, refresh, other, elsewhere):
        registry.add(job, ttl=3600, exc_string="boom")
    queue.forget_contact(996, "77")
    remaining = set(registry.get_job_ids())
    assert mine.id not in remaining and refresh.id not in remaining
    assert {other.id, elsewhere.id} <= remaining
    for job in (other, elsewhere):
        registry.remove(job, delete_job=True)
