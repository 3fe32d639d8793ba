"""Dedupe and coalescing on a real Redis: at-least-once in, one job per change out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from connector.errors import QueueUnavailable
from connector.queue import JobQueue
from connector.queue.writes import WRITE_SHARDS, shard_of
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
    assert queue.deliveries.backlog(991) == 3
    assert queue.rq.count == 1  # one drain job for the burst, not one per delivery


def test_drainers_claim_disjoint_chunks_and_a_dead_ones_claim_comes_back(queue: JobQueue) -> None:
    for i in range(5):
        queue.deliveries.accept(981, [event(f"e{i}", contact=str(i))])
    first = queue.deliveries.claim(981, 2, "worker-a:1")
    second = queue.deliveries.claim(981, 2, "worker-b:1")
    assert first and second
    assert [e["object_id"] for e in first[1]] == ["0", "1"] and [e["object_id"] for e in second[1]] == ["2", "3"]
    queue.deliveries.release(second[0])  # worker b processed its chunk
    assert queue.deliveries.release_locks_of(["worker-a"]) == 2  # worker a died holding its chunk
    assert [e["object_id"] for e in queue.deliveries.peek(981, 10)] == ["0", "1", "4"]
    claim = queue.deliveries.claim(981, 10, "worker-c:1")
    assert claim and queue.deliveries.unclaim(981, claim[0]) == 3  # processing failed: back in order
    assert [e["object_id"] for e in queue.deliveries.peek(981, 10)] == ["0", "1", "4"]


def test_a_deep_backlog_sheds_load_with_retry_after(queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.queue import deliveries

    monkeypatch.setattr(deliveries, "INBOX_LIMIT", 2)
    assert queue.deliveries.accept(982, [event("a"), event("b")]) == 2
    with pytest.raises(deliveries.InboxFull) as refused:
        queue.deliveries.accept(982, [event("c")])
    assert refused.value.retry_after > 0
    assert queue.deliveries.backlog(982) == 2
    claim = queue.deliveries.claim(982, 10, "w:1")
    assert claim
    queue.deliveries.release(claim[0])
    assert queue.deliveries.accept(982, [event("c")]) == 1  # the refused one is taken on its retry


def test_remembered_ids_are_compact_and_capped(queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.queue import deliveries

    for start in range(0, 20_000, 500):
        queue.deliveries.accept(983, [event(f"id-{n}") for n in range(start, start + 500)])
    keys = list(queue.redis.scan_iter(f"{queue.prefix}seen*:983*"))
    used = sum(queue.redis.memory_usage(k, samples=0) for k in keys)
    assert used / 20_000 <= 40, f"{used / 20_000:.1f} bytes per remembered id"
    assert queue.deliveries.accept(983, [event("id-7"), event("id-19999")]) == 0
    monkeypatch.setattr(deliveries, "SEEN_CAP", 20_000)  # full: new ids are taken but not remembered
    assert queue.deliveries.accept(983, [event("over")]) == 1
    assert queue.deliveries.accept(983, [event("over")]) == 1


def test_forget_takes_the_person_out_of_the_inbox(queue: JobQueue) -> None:
    queue.deliveries.accept(984, [event("a", contact="77"), event("b", contact="78"), event("c", contact="77")])
    claim = queue.deliveries.claim(984, 1, "w:1")  # one of them is being processed right now
    assert queue.deliveries.forget(984, "77") == 2
    assert [e["object_id"] for e in queue.deliveries.peek(984, 10)] == ["78"]
    assert claim and queue.redis.lrange(claim[0], 0, -1) == [b"{}"]


def test_duplicates_inside_one_delivery_count_once(queue: JobQueue) -> None:
    assert queue.deliveries.accept(992, [event("x"), event("x"), event("y")]) == 2


def test_refresh_requests_coalesce_until_the_job_starts(queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.queue import refreshes

    assert queue.refreshes.request(993, ["7"]) == 1
    assert queue.refreshes.request(993, ["7", "7"]) == 0
    assert queue.refreshes.request(993, ["8", "7"]) == 1
    assert queue.rq.count == 1  # one collector for everything that arrives before it hands out
    assert 0 < queue.refreshes.window_left(993) <= refreshes.FILL_WINDOW
    queue.refreshes.collect_later(993)  # the window is open: the collector goes behind other work
    monkeypatch.setattr(refreshes, "FILL_WINDOW", 0.0)
    assert queue.refreshes.window_left(993) == 0
    assert queue.refreshes.hand_out(993) == 2
    queue.refreshes.started(993, ["7", "8"])
    assert queue.refreshes.request(993, ["7"]) == 1
    assert [job.func_name.rsplit(".", 1)[-1] for job in queue.rq.jobs] == [
        "collect_refreshes", "collect_refreshes", "refresh_contacts", "collect_refreshes"]


def test_refreshes_are_batched_per_job(queue: JobQueue) -> None:
    from connector.queue import REFRESH_BATCH

    # one webhook per record, as Dataverse sends them: they still end up in full batches
    for i in range(REFRESH_BATCH * 2 + 1):
        assert queue.refreshes.request(995, [str(i)]) == 1
    assert queue.rq.count == 1
    assert queue.refreshes.hand_out(995) == REFRESH_BATCH * 2 + 1  # full batches go at once
    refreshes = [job for job in queue.rq.jobs if job.func_name.endswith("refresh_contacts")]
    assert sorted(len(job.args[1]) for job in refreshes) == [1, REFRESH_BATCH, REFRESH_BATCH]
    assert sorted(cid for job in refreshes for cid in job.args[1]) == sorted(str(i) for i in range(101))


def test_a_contact_refreshed_moments_ago_settles_unless_a_round_has_room(queue: JobQueue) -> None:
    from connector.queue import refreshes

    def handed() -> list[list[str]]:
        return [sorted(job.args[1]) for job in queue.rq.jobs if job.func_name.endswith("refresh_contacts")]

    queue.refreshes.request(997, ["1", "2"])
    assert queue.refreshes.hand_out(997, batch=3) == 2
    queue.refreshes.started(997, ["1", "2"])
    queue.refreshes.request(997, ["2"])  # changed while its refresh runs: a newer read may overtake it
    assert queue.refreshes.window_left(997) <= refreshes.FILL_WINDOW
    assert queue.refreshes.hand_out(997, batch=3) == 1
    queue.refreshes.finished(997, ["1", "2"])
    queue.refreshes.request(997, ["1"])  # changed again right after its refresh: it settles
    assert queue.refreshes.hand_out(997, batch=3) == 0
    assert handed() == [["1", "2"], ["2"]]
    # its collector comes back when "1" has settled, not after the short fill window
    assert queue.refreshes.window_left(997) > refreshes.FILL_WINDOW
    queue.refreshes.request(997, ["3"])  # a new contact is not held back by the settling one ...
    assert queue.refreshes.window_left(997) <= refreshes.FILL_WINDOW
    # ... and its round takes "1" along: the job costs the same with room to spare
    assert queue.refreshes.hand_out(997, batch=3) == 2
    assert handed() == [["1", "2"], ["2"], ["1", "3"]]
    assert not queue.redis.scard(queue.keys.waiting(997))  # nothing left behind


def test_rounds_are_paced_to_the_crm_limit_unless_a_batch_is_full(queue: JobQueue) -> None:
    from connector.queue import refreshes

    queue.refreshes.request(998, ["1"])
    assert queue.refreshes.window_left(998, pace=30.0, batch=2) <= refreshes.FILL_WINDOW  # no round yet
    assert queue.refreshes.hand_out(998, batch=2) == 1
    queue.refreshes.request(998, ["2"])
    # a round went out just now: the next part-full one waits for the pace, not just the fill window
    assert queue.refreshes.window_left(998, pace=30.0, batch=2) > refreshes.FILL_WINDOW
    assert queue.refreshes.window_left(998, pace=0.0, batch=2) <= refreshes.FILL_WINDOW
    queue.refreshes.request(998, ["3"])  # a full batch waits: waiting would not make its round cheaper
    assert queue.refreshes.window_left(998, pace=30.0, batch=2) == 0  # neither the pace nor the fill window


def test_a_full_batch_goes_without_waiting_out_the_fill_window(queue: JobQueue) -> None:
    from connector.queue import refreshes

    queue.refreshes.request(999, ["1"])
    assert 0 < queue.refreshes.window_left(999, batch=2) <= refreshes.FILL_WINDOW
    queue.refreshes.request(999, ["2"])  # a backfill's page of ids is a full batch: the CRM's window idled a second
    assert queue.refreshes.window_left(999, batch=2) == 0


def test_dirty_contacts_stay_marked_until_written(queue: JobQueue) -> None:
    queue.writes.mark_dirty(994, [str(i) for i in range(250)])
    every = list(range(WRITE_SHARDS))
    first = queue.writes.peek_dirty(994, every, 100)
    assert len(first) == 100
    assert queue.writes.dirty_count(994) == 250  # a crash before the write loses nothing
    queue.writes.written(994, first)
    assert queue.writes.dirty_count(994) == 150
    assert not set(first) & set(queue.writes.peek_dirty(994, every, 200))


def test_each_contact_lives_in_one_shard_and_forget_clears_every_shard(queue: JobQueue) -> None:
    ids = [str(i) for i in range(40)]
    queue.writes.mark_dirty(995, ids)
    queue.writes.sending(995, ids)
    counts = queue.writes.dirty_counts(995)
    assert len(counts) > 1 and sum(counts.values()) == 40  # spread over shards, each contact once
    assert all(set(queue.writes.peek_dirty(995, [shard], 100)) == {c for c in ids if shard_of(c) == shard}
               for shard in counts)
    assert queue.writes.in_flight(995, ["3", "nope", "7"]) == ["3", "7"]
    queue.redis.sadd(queue.keys.dirty(995, None), "7")  # the unsharded set of an earlier release
    queue.writes.forget(995, "7")
    assert queue.writes.in_flight(995, ["7"]) == [] and "7" not in queue.writes.peek_dirty(995, list(counts), 100)
    assert not queue.redis.sismember(queue.keys.dirty(995, None), "7")


def test_a_dead_workers_shard_locks_are_released(queue: JobQueue) -> None:
    mine = queue.writes.flush_lock(996, 1)
    assert mine.acquire(token="live:1")
    dead = [queue.writes.flush_lock(996, shard) for shard in (2, 5)]
    assert all(lock.acquire(token="dead-worker:1") for lock in dead)
    queue.writes.release_locks_of(["dead-worker"])
    assert all(queue.writes.flush_lock(996, shard).acquire(token="x:1") for shard in (2, 5))
    assert not queue.writes.flush_lock(996, 1).acquire(token="x:2")  # a live worker's lock stays
    queue.redis.delete(*(queue.keys.flush_lock(996, shard) for shard in (1, 2, 5)))


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


def test_the_call_budget_is_one_rolling_window_for_every_worker(queue: JobQueue) -> None:
    first, second = queue.budget.gate(985), queue.budget.gate(985)  # two workers, one connection
    assert [first(3, 10.0), second(3, 10.0), first(3, 10.0)] == [0.0, 0.0, 0.0]
    wait = second(3, 10.0)
    assert 10.0 < wait <= 10.1  # until the oldest of the three leaves the window, and its 1% guard
    assert queue.budget.gate(986)(3, 10.0) == 0.0  # another connection has its own budget


def test_a_slot_frees_only_after_the_window_and_its_guard(queue: JobQueue) -> None:
    # The CRM stamps a call when it arrives, later than we do: freeing the slot exactly a window after our
    # own stamp sent calls the CRM still counted in its window (429). The guard is 1%, at most 1 s.
    gate = queue.budget.gate(988)
    assert gate(1, 300.0) == 0.0
    assert 300.5 < gate(1, 300.0) <= 301.0


def test_the_last_delivery_time_is_kept_for_status(queue: JobQueue) -> None:
    import time

    assert queue.deliveries.last_delivery(987) is None
    before = time.time()
    queue.deliveries.accept(987, [event("a")])
    last = queue.deliveries.last_delivery(987)
    assert last is not None and before - 1 <= last <= time.time() + 1


def test_a_redelivery_in_the_next_bucket_is_still_a_duplicate(queue: JobQueue,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from connector.queue import deliveries

    now = [deliveries.BUCKET_SECONDS * 500_000.0]
    monkeypatch.setattr(deliveries, "time", SimpleNamespace(time=lambda: now[0]))
    assert queue.deliveries.accept(994, [event(f"b-{n}") for n in range(10_000)]) == 10_000  # its shards double
    now[0] += deliveries.BUCKET_SECONDS
    assert queue.deliveries.accept(994, [event("b-3"), event("b-9999"), event("new")]) == 1
    meta = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in queue.redis.hgetall(queue.deliveries.keys.seen_meta(994)).items()}
    assert meta["500001:s"] == "32" and meta["500001:n"] == "1"  # sized from the previous bucket's 10,000 ids


def test_a_collector_sees_whether_other_work_waits_behind_it(queue: JobQueue) -> None:
    from connector.queue.keys import COLLECT_REFRESHES

    queue.refreshes.request(990, ["1"])  # queues a collector, alone
    assert not queue.work_waiting_besides(COLLECT_REFRESHES)  # it may wait out its window in place
    queue.refreshes.hand_out(990)  # a refresh round is queued: waiting in place would idle the CRM's window
    assert queue.work_waiting_besides(COLLECT_REFRESHES)
