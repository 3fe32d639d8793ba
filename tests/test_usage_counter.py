"""CRM calls counted in Redis and flushed into ``api_usage`` (issue 14 aim 3): a job's count is one Redis
round trip, not a database upsert; `status` shows the table plus what is not flushed yet; nothing is lost
or counted twice when flushes race or fail."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connector.connections import create_connection
from connector.jobs import _record_usage, flush_api_usage
from connector.status import collect_status
from connector.store import ApiUsage
from connector.worker import flush_usage_on_stop
from tests.together import run_together


class CountingAdapter:
    """What _record_usage reads of an adapter: cumulative calls and the limits the CRM reported."""

    def __init__(self) -> None:
        self.calls = 0

    def api_usage(self) -> dict[str, Any]:
        return {"calls": self.calls, "daily_remaining": 1000 - self.calls}


def _in_table(rt, connection_id: int) -> int:  # type: ignore[no-untyped-def]
    with rt.store.session() as session:
        row = session.get(ApiUsage, (connection_id, date.today()))
        return row.calls if row is not None else 0


def _setup(runtime_factory, redis_server_url: str, postgres_url: str):  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url, postgres_url)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="u", settings={},
                                      credentials={"access_token": "pat-1"})
    return rt, connection_id


def test_calls_are_counted_in_redis_and_flushed_when_due(runtime_factory, redis_server_url: str,  # type: ignore[no-untyped-def]
                                                         postgres_url: str) -> None:
    rt, connection_id = _setup(runtime_factory, redis_server_url, postgres_url)
    adapter = CountingAdapter()
    adapter.calls = 3
    _record_usage(rt, connection_id, adapter)  # type: ignore[arg-type]
    assert _in_table(rt, connection_id) == 3  # no flush yet: this one is due at once
    adapter.calls = 7
    _record_usage(rt, connection_id, adapter)  # type: ignore[arg-type]
    assert _in_table(rt, connection_id) == 3, "a job within FLUSH_SECONDS of the last flush must not touch the table"
    shown = next(c for c in collect_status(rt)["connections"] if c["id"] == connection_id)
    assert shown["api_calls_today"] == 7  # the table plus what Redis holds
    assert shown["api_limits"] == {"daily_remaining": 993}
    rt.redis.delete(rt.queue.keys.usage_flush(connection_id))  # FLUSH_SECONDS later (no sleeping in tests)
    adapter.calls = 8
    _record_usage(rt, connection_id, adapter)  # type: ignore[arg-type]
    assert _in_table(rt, connection_id) == 8
    adapter.calls = 10
    _record_usage(rt, connection_id, adapter)  # type: ignore[arg-type]
    flush_usage_on_stop(rt)  # a worker shutting down leaves nothing only in Redis
    assert _in_table(rt, connection_id) == 10
    assert next(c for c in collect_status(rt)["connections"] if c["id"] == connection_id)["api_calls_today"] == 10


def test_a_flush_that_cannot_commit_puts_its_counts_back(runtime_factory, redis_server_url: str,  # type: ignore[no-untyped-def]
                                                         postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rt, connection_id = _setup(runtime_factory, redis_server_url, postgres_url)
    rt.queue.usage.add(connection_id, 5, {}, date.today())

    def database_away(*_args: Any) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr("connector.jobs.add_api_usage_days", database_away)
    with pytest.raises(ConnectionError):
        flush_api_usage(rt, connection_id)
    monkeypatch.undo()
    assert rt.queue.usage.pending([connection_id], date.today())[connection_id][0] == 5
    assert flush_api_usage(rt, connection_id) == 5 and _in_table(rt, connection_id) == 5


def test_workers_counting_and_flushing_at_once_add_up(runtime_factory, redis_server_url: str,  # type: ignore[no-untyped-def]
                                                      postgres_url: str) -> None:
    rt, connection_id = _setup(runtime_factory, redis_server_url, postgres_url)
    workers, rounds = 8, 25
    def count_and_flush() -> None:
        rt.queue.usage.add(connection_id, 3, {}, date.today())
        flush_api_usage(rt, connection_id)  # every one races every other: take is atomic

    errors = run_together(workers, rounds, count_and_flush)
    flush_api_usage(rt)
    assert not errors, f"{len(errors)} failed: {errors[0]!r}"
    assert _in_table(rt, connection_id) == workers * rounds * 3
