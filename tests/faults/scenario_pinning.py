"""Scenario 13.7: outbound URLs are pinned to the vendor's hosts in production.

An admin runs ``cem-connector connect`` with CEM_ENV=production and a mistyped or hostile base URL
(HubSpot ``api_base_url``, Salesforce ``login_url``, Dynamics ``authority_host``): once plain http,
once https on a host that is not the vendor's. A listener on that address counts every connection
it receives, i.e. every time the connector tried to hand it the token or the password. Expected:
the command fails before any network traffic with a message that names the setting and the way
out, and nothing reaches the listener. Then the same command with ``private_endpoint=true`` against
the local sandbox CRM succeeds and warns that a private endpoint is in use.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from sandbox import sandbox_class

from .outcome import Row
from .world import REPO, scenario_world

HOSTILE: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    # platform: (the URL setting, other settings, credentials)
    "hubspot": ("api_base_url", {"portal_id": "123"}, {"access_token": "pat-na1-secret-token-1234"}),
    "salesforce": ("login_url", {"auth": "password", "username": "integration@acme.example"},
                   {"password": "hunter2-secret", "security_token": "tok"}),
    "dynamics": ("authority_host", {"org_url": "https://contoso.crm.dynamics.com", "tenant_id": "t-1",
                                    "client_id": "c-1"}, {"client_secret": "entra-secret-value"}),
}


class Listener:
    """A TCP listener on loopback that counts the connections it gets (and reads what arrives)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.5)
            with contextlib.suppress(OSError):
                self.received += conn.recv(65536)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def run(platform: str, directory: Path) -> Row:
    row = Row("13.7 outbound URLs pinned (production)", platform)
    with scenario_world(row, setup=Listener) as listener:
        env = _production_env(directory)
        problems: list[str] = []
        setting, settings, credentials = HOSTILE[platform]
        for scheme in ("http", "https"):
            before = listener.connections
            result = _connect(env, platform, {**settings, setting: f"{scheme}://127.0.0.1:{listener.port}"},
                              credentials)
            reached = listener.connections - before
            row.sent += 1
            row.lost += reached  # a connection to a host that is not the vendor's: credentials on their way
            said = (result.stdout + result.stderr).strip().splitlines()
            if result.returncode == 0 or reached or "private_endpoint" not in result.stdout + result.stderr:
                problems.append(f"{scheme} {setting}: exit {result.returncode}, {reached} connection(s) to the "
                                f"host; said {said[-1][:100] if said else 'nothing'!r}")
            else:
                row.applied += 1
        sandbox = sandbox_class(platform)()
        sandbox.start()
        try:
            sandbox_settings, sandbox_credentials = sandbox.connection_settings()
            result = _connect(env, platform, {**sandbox_settings, "private_endpoint": "true"}, sandbox_credentials)
        finally:
            sandbox.stop()
        row.sent += 1
        output = result.stdout + result.stderr
        if result.returncode == 0 and "private endpoint" in output.lower():
            row.applied += 1
        else:
            problems.append(f"private_endpoint=true on the sandbox: exit {result.returncode}, "
                            f"warning {'shown' if 'private endpoint' in output.lower() else 'missing'}")
        row.ok = not problems and row.lost == 0
        row.detail = (f"hostile http and https {setting}: {row.lost} connection(s) reached the host; "
                      f"{row.applied}/{row.sent} outcomes right")
        if problems:
            row.detail += "; " + "; ".join(problems[:2])
    return row


def _production_env(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "CEM_ENV": "production", "CEM_DATA_DIR": str(directory / "data"),
            "DATABASE_URL": f"sqlite:///{directory / 'cem.db'}", "REDIS_URL": "redis://127.0.0.1:6379/9",
            "CEM_SECRET_KEY": Fernet.generate_key().decode(), "CEM_ADMIN_TOKEN": uuid.uuid4().hex * 2,
            "CEM_SIGNING_KEY": uuid.uuid4().hex * 2, "CEM_PUBLIC_URL": "https://connector.example.com",
            "PYTHONPATH": str(REPO), "NO_PROXY": "*", "no_proxy": "*"}


def _connect(env: dict[str, str], platform: str, settings: dict[str, Any],
             credentials: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "connector.cli", "connect", platform, "--name", uuid.uuid4().hex[:8]]
    for key, value in settings.items():
        args += ["--setting", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    for key, value in credentials.items():
        args += ["--credential", f"{key}={value}"]
    return subprocess.run(args, cwd=REPO, env=env, text=True, capture_output=True, timeout=60, check=False)
