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
