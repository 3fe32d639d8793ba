"""Flush coordination over the sharded write ledger: two workers write different shards of one connection
at once, never one contact at once, and a flush that finds its shard busy never leaves it stalled."""

from __future__ import annotations

from connector.connections import create_connection
from connector.jobs import flush_writes
from connector.queue.writes import WRITE_SHARDS, shard_of


def _ids_in_shards(shards: int, per_shard: int) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    n = 0
    while len(found) < shards or any(len(v) < per_shard for v in found.values()):
        cid = str(1000 + n)
        n += 1
        shard = shard_of(cid)
        if (shard in found or len(found) < shards) and len(found.setdefault(shard, [])) < per_shard:
            found[shard].append(cid)
    return found


def _flush_jobs(rt) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(job.kwargs["shard"] for job in rt.queue.rq.jobs if job.func_name.endswith("flush_writes"))


def _connection(rt) -> int:  # type: ignore[no-untyped-def]
    return create_connection(rt.store, rt.box, platform="hubspot", name="f", settings={},
                             credentials={"access_token": "pat-1"})


def test_a_second_worker_writes_another_shard_while_one_is_held(runtime_factory, redis_server_url: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    connection_id = _connection(rt)
    shards = _ids_in_shards(2, 3)
    held, free = sorted(shards)
    rt.queue.writes.mark_dirty(connection_id, [cid for ids in shards.values() for cid in ids])
    other_worker = rt.queue.writes.flush_lock(connection_id, held)
    assert other_worker.acquire(token="another-worker:1")  # mid-write on one shard...
    try:
        counts = flush_writes(connection_id, shard=free)  # ...does not stop this one (one lock per connection did)
        assert counts.get("busy") is None and counts["contacts"] == 3  # never analysed: nothing to send
        assert rt.queue.writes.dirty_counts(connection_id) == {held: 3}  # the held shard is left to its writer
        assert flush_writes(connection_id, shard=held) == {"busy": 1}
        # nothing waits without a queued flush: the finished flush queued one for the busy shard
        assert _flush_jobs(rt) == [held]
    finally:
        other_worker.release()
        rt.queue.rq.empty()


def test_one_flush_takes_free_shards_up_to_a_full_batch(runtime_factory, redis_server_url: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    connection_id = _connection(rt)
    shards = _ids_in_shards(WRITE_SHARDS, 2)
    rt.queue.writes.mark_dirty(connection_id, [cid for ids in shards.values() for cid in ids])
    assert rt.queue.writes.request_flush(connection_id)
    assert _flush_jobs(rt) == list(range(WRITE_SHARDS))  # one job per shard with dirty contacts
    rt.queue.rq.empty()
    counts = flush_writes(connection_id, shard=0)
    # 16 contacts are less than HubSpot's write batch of 100: one flush takes every shard, one call's worth
    assert counts["shards"] == WRITE_SHARDS and counts["contacts"] == 2 * WRITE_SHARDS
    assert rt.queue.writes.dirty_count(connection_id) == 0
    assert _flush_jobs(rt) == []


def test_a_flush_job_of_an_earlier_release_fans_out_per_shard(runtime_factory, redis_server_url: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    connection_id = _connection(rt)
    shards = _ids_in_shards(3, 1)
    legacy = rt.queue.keys.dirty(connection_id, None)
    rt.redis.sadd(legacy, *[ids[0] for ids in shards.values()])  # `dirty:<conn>` as the unsharded ledger left it
    try:
        assert flush_writes(connection_id) == {"shards": 1}  # queued before the upgrade: no shard argument
        assert not rt.redis.exists(legacy)
        assert rt.queue.writes.dirty_counts(connection_id) == {shard: 1 for shard in shards}
        assert _flush_jobs(rt) == sorted(shards)
    finally:
        rt.queue.rq.empty()
