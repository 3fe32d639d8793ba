"""The baseline web app for bench.intake: the same route as the connector's webhook endpoint, answering
200 without doing anything, served by the same gunicorn settings as the Procfile's ``web`` line."""

from __future__ import annotations

from flask import Flask

app = Flask("bare-baseline")


@app.post("/webhooks/<platform>/<int:connection_id>")
def receive(platform: str, connection_id: int) -> tuple[str, int]:
    return '{"received": 1, "new": 1}', 200
