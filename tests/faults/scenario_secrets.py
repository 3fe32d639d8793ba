"""Scenario 8: secrets at rest and in logs, admin authentication, signed journey URLs.

- The raw database (the SQLite file and its WAL, read as bytes, and the connections row read with
  sqlite3, not through the ORM) never holds a credential, token or webhook secret in clear; the
  stored value decrypts with CEM_SECRET_KEY.
- Every log record of a whole run at CEM_LOG_LEVEL=DEBUG (all loggers, including the web server's
  request lines and the HTTP clients' debug lines) is free of those secrets.
- Admin pages and API answer 401 without the admin token (none, wrong bearer, wrong basic).
- The embedded journey view needs a valid, unexpired signed URL for that very contact.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from sandbox.dataset import demo_records

from .outcome import Row
from .world import World

URL_TTL = 2


class Collect(logging.Handler):
    """Every record the connector's side logs. HTTP client lines of requests *to* the connector come
    from the CRM stand-ins (the sandbox sender, this scenario posting as the CRM), not from us: their
    URLs carry the outbound-message token by the CRM's design."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.crm_side_target = "\0"  # the connector's URL: HTTP client lines calling it are the CRM's

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == "webhook-sender":
            return
        if record.name.startswith("urllib3") and self.crm_side_target in record.getMessage():
            return
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted still must not break the run
            self.lines.append(str(record.msg))


def run(platform: str, directory: Path) -> Row:
    row = Row("8 secrets, admin auth, signed URLs", platform)
    started = time.monotonic()
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    world: World | None = None
    problems: list[str] = []
    try:
        world = World(platform, directory, demo_records(4), extra_env={"CEM_SIGNED_URL_TTL": str(URL_TTL),
                                                                     "CEM_LOG_LEVEL": "DEBUG"})
        handler.crm_side_target = world.server.url.split("//", 1)[1]
        ids = world.contact_ids()
        row.sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(ids)))
        world.drain(until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        secrets = _secrets(world)
        checks = 0

        # at rest
        checks += 1
        problems += _at_rest(world, directory, secrets)
        # in logs
        checks += 1
        leaked = sorted({name for name, value in secrets.items() for line in handler.lines if value in line})
        if leaked:
            problems.append(f"secrets in logs: {', '.join(leaked)}")
        # admin authentication
        admin, more = _admin(world)
        checks += more
        problems += admin
        # signed journey URLs
        journey, more = _journey(world, ids)
        checks += more
        problems += journey

        row.applied = checks - len(problems)
        row.sent = checks
        row.ok = not problems and bool(handler.lines)  # a run that logged nothing proves nothing
        row.detail = (f"{len(secrets)} secrets looked for in the raw DB and {len(handler.lines)} log records; "
                      f"{checks} checks, {len(problems)} problems")
        if problems:
            row.detail += "; " + "; ".join(problems[:3])
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        row.seconds = time.monotonic() - started
        if world is not None:
            world.close()
    return row


def _secrets(world: World) -> dict[str, str]:
    """Every secret value this connection holds (credentials, tokens, webhook secret), by name."""
    _, credentials = world.sandbox.connection_settings()
    found = {f"credential {k}": str(v) for k, v in credentials.items() if isinstance(v, str) and len(v) >= 8}
    found["webhook secret"] = world.secret
    return found


def _at_rest(world: World, directory: Path, secrets: dict[str, str]) -> list[str]:
    problems: list[str] = []
    raw = b"".join(p.read_bytes() for p in directory.glob("cem.db*"))
    for name, value in secrets.items():
        if value.encode() in raw:
            problems.append(f"{name} in clear in the database file")
    with sqlite3.connect(directory / "cem.db") as db:
        stored = db.execute("SELECT credentials, webhook_secrets FROM connections WHERE id = ?",
                            (world.connection_id,)).fetchone()
    fernet = Fernet(world.env["CEM_SECRET_KEY"].encode())
    try:
        credentials = json.loads(fernet.decrypt(bytes(stored[0])))
        webhook_secrets = json.loads(fernet.decrypt(bytes(stored[1])))
    except Exception as error:
        return [*problems, f"stored secrets do not decrypt with CEM_SECRET_KEY: {type(error).__name__}"]
    if world.secret not in webhook_secrets or not credentials:
        problems.append("decrypted row does not hold the connection's secrets")
    return problems


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _admin(world: World) -> tuple[list[str], int]:
    base = world.server.url
    token = world.env["CEM_ADMIN_TOKEN"]
    wrong_basic = "Basic " + base64.b64encode(b"admin:not-the-token").decode()
    problems: list[str] = []
    checks = 0
    with _session() as session:
        for method, path in (("GET", "/admin/"), ("GET", "/admin/api/status"), ("POST", "/admin/api/replay"),
                             ("POST", "/admin/api/journey-link")):
            for label, headers in (("no auth", {}), ("wrong bearer", {"Authorization": "Bearer nope"}),
                                   ("wrong basic", {"Authorization": wrong_basic})):
                checks += 1
                status = session.request(method, base + path, headers=headers, json={}, timeout=10).status_code
                if status != 401:
                    problems.append(f"{method} {path} with {label}: {status}")
        checks += 1
        status = session.get(base + "/admin/api/status", headers={"Authorization": f"Bearer {token}"},
                             timeout=10).status_code
        if status != 200:
            problems.append(f"admin status with the token: {status}")
    return problems, checks


def _journey(world: World, ids: list[str]) -> tuple[list[str], int]:
    base = world.server.url
    auth = {"Authorization": f"Bearer {world.env['CEM_ADMIN_TOKEN']}"}
    problems: list[str] = []
    with _session() as session:
        link: dict[str, Any] = session.post(base + "/admin/api/journey-link", headers=auth, timeout=10,
                                            json={"connection_id": world.connection_id, "contact_id": ids[0]}).json()
        url = link["url"]
        token = url.split("token=", 1)[1]
        answers = {
            "valid": (session.get(url, timeout=10).status_code, 200),
            "no token": (session.get(url.split("?", 1)[0], timeout=10).status_code, 403),
            "tampered token": (session.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"),
                                           timeout=10).status_code, 403),
            "another contact": (session.get(f"{base}/journey/{world.connection_id}/{ids[1]}?token={token}",
                                            timeout=10).status_code, 403),
        }
        time.sleep(URL_TTL + 1.1)
        answers["expired"] = (session.get(url, timeout=10).status_code, 403)
    for name, (status, wanted) in answers.items():
        if status != wanted:
            problems.append(f"journey view {name}: {status} (want {wanted})")
    return problems, len(answers)
