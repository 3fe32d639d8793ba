"""The per-process runtime: adapters are reused across jobs and rebuilt when the connection changes."""

from __future__ import annotations

import uuid

import pytest

import connector.runtime as runtime_module
from adapters.errors import AuthenticationError
from connector.connections import NeedsReconnect, create_connection, rotate_webhook_secret
from connector.jobs import _stop_connection, resume_connection
from connector.runtime import CONNECTION_CHECK_SECONDS


def test_adapters_are_cached_until_the_connection_changes(runtime_factory, embedded_redis: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(embedded_redis)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="c", settings={},
                                      credentials={"access_token": "pat-1"})
    first = rt.adapter(connection_id)
    assert rt.adapter(connection_id) is first  # no new login or SDK client per job
    rotate_webhook_secret(rt.store, rt.box, connection_id)  # any change to the row...
    rt._adapters[connection_id].checked -= CONNECTION_CHECK_SECONDS  # ...once the cache is due for a check...
    assert rt.adapter(connection_id) is not first  # ...gives a fresh adapter with the new settings


def test_a_cached_adapter_reads_no_connection_row(runtime_factory, embedded_redis: str,  # type: ignore[no-untyped-def]
                                                  monkeypatch) -> None:
    rt = runtime_factory(embedded_redis)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="c", settings={},
                                      credentials={"access_token": "pat-1"})
    first = rt.adapter(connection_id)
    reads: list[int] = []
    real = runtime_module.get_connection
    monkeypatch.setattr(runtime_module, "get_connection", lambda store, cid: reads.append(cid) or real(store, cid))
    for _ in range(20):
        assert rt.adapter(connection_id) is first
    assert reads == [], "a job within CONNECTION_CHECK_SECONDS of the last check must not query the database"


def test_a_stop_in_one_process_reaches_every_cached_adapter_at_once(runtime_factory, embedded_redis: str,  # type: ignore[no-untyped-def]
                                                                   tmp_path) -> None:
    shared = {"database_url": f"sqlite:///{tmp_path / 'shared.db'}", "CEM_QUEUE": f"test-{uuid.uuid4().hex[:8]}"}
    worker_a = runtime_factory(embedded_redis, **shared)
    worker_b = runtime_factory(embedded_redis, **shared)
    connection_id = create_connection(worker_a.store, worker_a.box, platform="hubspot", name="c", settings={},
                                      credentials={"access_token": "pat-1"})
    cached = worker_b.adapter(connection_id)
    assert worker_b.adapter(connection_id) is cached
    _stop_connection(worker_a, connection_id, AuthenticationError("401", platform="hubspot"))
    with pytest.raises(NeedsReconnect):  # no further login with refused credentials (Salesforce locks the user)
        worker_b.adapter(connection_id)
    create_connection(worker_a.store, worker_a.box, platform="hubspot", name="c", settings={},
                      credentials={"access_token": "pat-2"})
    assert resume_connection(worker_a, connection_id)  # `connect` with new credentials
    assert worker_b.adapter(connection_id) is not cached  # built afresh, with the new credentials


def test_api_calls_are_counted_once(runtime_factory, embedded_redis: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(embedded_redis)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="c", settings={},
                                      credentials={"access_token": "pat-1"})
    adapter = rt.adapter(connection_id)
    assert rt.new_api_calls(connection_id, adapter, 5) == 5
    assert rt.new_api_calls(connection_id, adapter, 5) == 0
    assert rt.new_api_calls(connection_id, adapter, 12) == 7
    rotate_webhook_secret(rt.store, rt.box, connection_id)
    rt.connection_changed(connection_id)
    assert rt.new_api_calls(connection_id, rt.adapter(connection_id), 3) == 3  # a new adapter counts from zero


def test_closing_the_runtime_stops_its_embedded_redis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from connector.config import Settings
    from connector.runtime import Runtime

    rt = Runtime(Settings.from_env({"CEM_DATA_DIR": str(tmp_path / "data")}))
    pid = rt.embedded._server.pid
    rt.queue.depth()  # the runtime's own connections are open...
    rt.close()  # ...and must not keep the server alive
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        import time

        time.sleep(0.1)
    raise AssertionError(f"embedded redis-server {pid} survived Runtime.close()")


def test_a_process_that_joined_the_embedded_redis_leaves_it_running(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from connector.redis_conn import EmbeddedRedis, connect

    serve = EmbeddedRedis(tmp_path)  # e.g. `cem-connector serve`, started first
    status = EmbeddedRedis(tmp_path)  # e.g. `cem-connector status` next to it
    assert serve.owner and not status.owner and status.url == serve.url
    status.close()
    assert connect(serve.url).ping()
    serve.close()
