"""Flush coordination: a flush that finds another worker writing must never leave the connection stalled."""

from __future__ import annotations

from rq.registry import ScheduledJobRegistry

from connector.connections import create_connection
from connector.jobs import flush_writes


def test_a_busy_flush_reschedules_itself(runtime_factory, redis_server_url: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="f", settings={},
                                      credentials={"access_token": "pat-1"})
    rt.queue.writes.mark_dirty(connection_id, ["1", "2"])
    assert rt.queue.writes.request_flush(connection_id)  # the flag is set and a job queued
    other_worker = rt.queue.writes.flush_lock(connection_id)
    assert other_worker.acquire(token="another-worker:1")  # ...while another worker is mid-write
    try:
        assert flush_writes(connection_id) == {"busy": 1}
        scheduled = ScheduledJobRegistry(queue=rt.queue.rq).get_job_ids()
        assert scheduled, "the busy flush must leave a flush job behind, or the dirty contacts wait an hour"
        # and a request arriving now joins that job instead of being dropped on a stale flag
        assert not rt.queue.writes.request_flush(connection_id)
    finally:
        other_worker.release()
        rt.queue.rq.empty()
        for job_id in ScheduledJobRegistry(queue=rt.queue.rq).get_job_ids():
            ScheduledJobRegistry(queue=rt.queue.rq).remove(job_id, delete_job=True)
