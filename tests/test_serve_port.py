"""`cem-connector serve --port N` without CEM_PUBLIC_URL: webhook URLs (and so signatures) and journey links
name the port really served, not the default 8000."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def test_serve_uses_the_port_it_serves(tmp_path: Path, embedded_redis: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CEM_PUBLIC_URL", "CEM_ENV")}
    env.update(CEM_DATA_DIR=str(tmp_path / "data"), REDIS_URL=embedded_redis, CEM_ADMIN_TOKEN="admin-token")
    subprocess.run([str(BIN / "cem-connector"), "connect", "salesforce", "--no-check", "--setting", "auth=session"],
                   env=env, check=True, capture_output=True, timeout=60)
    server = subprocess.Popen([str(BIN / "cem-connector"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/admin/api/status", timeout=2,
                                      headers={"Authorization": "Bearer admin-token"})
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert status.json()["connections"][0]["webhook_url"] == f"http://127.0.0.1:{port}/webhooks/salesforce/1"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
