"""The web process parses Redis replies in C (hiredis): redis-py picks it only when it is installed."""

from __future__ import annotations

from redis._parsers import _HiredisParser

from connector.redis_conn import connect


def test_the_connector_client_parses_replies_with_hiredis() -> None:
    client = connect("redis://127.0.0.1:6379/0")
    connection = client.connection_pool.make_connection()  # not connected: no server needed
    assert isinstance(connection._parser, _HiredisParser)
