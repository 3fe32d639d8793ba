"""The per-process runtime: adapters are reused across jobs and rebuilt when the connection changes."""

from __future__ import annotations

from connector.connections import create_connection, rotate_webhook_secret


def test_adapters_are_cached_until_the_connection_changes(runtime_factory, embedded_redis: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(embedded_redis)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="c", settings={},
                                      credentials={"access_token": "pat-1"})
    first = rt.adapter(connection_id)
    assert rt.adapter(connection_id) is first  # no new login or SDK client per job
    rotate_webhook_secret(rt.store, rt.box, connection_id)  # any change to the row...
    assert rt.adapter(connection_id) is not first  # ...gives a fresh adapter with the new settings


def test_api_calls_are_counted_once(runtime_factory, embedded_redis: str) -> None:  # type: ignore[no-untyped-def]
    rt = runtime_factory(embedded_redis)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="c", settings={},
                                      credentials={"access_token": "pat-1"})
    adapter = rt.adapter(connection_id)
    assert rt.new_api_calls(connection_id, adapter, 5) == 5
    assert rt.new_api_calls(connection_id, adapter, 5) == 0
    assert rt.new_api_calls(connection_id, adapter, 12) == 7
    rotate_webhook_secret(rt.store, rt.box, connection_id)
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
