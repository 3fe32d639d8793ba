"""Webhook deliveries open no admin session (issue 14 aim 4: a serializer build per delivery was ~0.1 ms of
a single-event delivery); the console keeps its signed cookie."""

from __future__ import annotations

from flask import request


def test_webhooks_get_a_null_session_and_the_console_a_real_one(runtime_factory, redis_server_url: str) -> None:  # type: ignore[no-untyped-def]
    from connector.app import create_app

    app = create_app(runtime_factory(redis_server_url))
    sessions = app.session_interface
    with app.test_request_context("/webhooks/hubspot/1", method="POST"):
        assert sessions.is_null_session(sessions.open_session(app, request))
    with app.test_request_context("/admin/"):
        assert not sessions.is_null_session(sessions.open_session(app, request))
    client = app.test_client()
    answer = client.post("/webhooks/hubspot/999", data="[]", content_type="application/json")
    assert answer.status_code == 404 and "Set-Cookie" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"  # the security headers stay
