"""First deploy on PostgreSQL, as the Procfile runs it: release (migrate), then web with 2 gunicorn workers.

Real processes, a fresh PostgreSQL schema, the real Redis; the access log is captured and grepped
for secrets.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp_path: Path, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "CEM_ENV": "production", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "CEM_SECRET_KEY": Fernet.generate_key().decode(), "CEM_ADMIN_TOKEN": "admin-token-" + "x" * 24,
        "CEM_SIGNING_KEY": "signing-key-" + "y" * 32, "CEM_PUBLIC_URL": "https://cem.example.test",
        "CEM_DATA_DIR": str(tmp_path / "data"), "CEM_LOG_LEVEL": "INFO",
        "CEM_BIND_HOST": "127.0.0.1", "PORT": str(free_port()), "WEB_CONCURRENCY": "2", **extra,
    }


def run_line(line: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A Procfile line as the platform runs it: through a shell, in its own process group."""
    return subprocess.Popen(["bash", "-c", f"exec {line}"], env=env, cwd=ROOT, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_healthy(port: int, process: subprocess.Popen[bytes], seconds: float = 90) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"web exited with code {process.returncode}")
        try:  # a worker answers once it has loaded the app (seconds on a busy machine)
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    pytest.fail("web did not answer within the deadline")


def test_procfile_release_then_two_web_workers_boot_on_an_empty_postgres_schema(
        tmp_path: Path, postgres_url: str, redis_server_url: str) -> None:
    lines = procfile()
    assert {"release", "web", "worker", "scheduler"} <= set(lines)
    env = production_env(tmp_path, postgres_url, redis_server_url)
    release = run_line(lines["release"], env, tmp_path / "release.log")
    assert release.wait(timeout=120) == 0, (tmp_path / "release.log").read_text()
    assert "migrated from an empty schema" in (tmp_path / "release.log").read_text()

    web = run_line(lines["web"], env, tmp_path / "web.log")
    try:
        port = int(env["PORT"])
        assert wait_healthy(port, web).json() == {"database": True, "queue": True}
        # secrets in URLs as CRMs and reps send them: Salesforce ?token=, Dataverse ?code=, journey links
        requests.post(f"http://127.0.0.1:{port}/webhooks/salesforce/1?token=SF-SECRET-1", data=b"<x/>",
                      headers={"Content-Type": "text/xml"}, timeout=5)
        requests.post(f"http://127.0.0.1:{port}/webhooks/dynamics/1?code=DYN-SECRET-2", json={}, timeout=5)
        requests.get(f"http://127.0.0.1:{port}/journey/1/0031?token=JOURNEY-SECRET-3", timeout=5)
        requests.get(f"http://127.0.0.1:{port}/healthz", headers={"Referer": "https://x/?token=REFERER-SECRET-4"},
                     timeout=5)
        time.sleep(3)  # both workers stay up (the old failure: they raced on alembic_version and exited)
        assert web.poll() is None
    finally:
        stop(web)
    log = (tmp_path / "web.log").read_text()
    assert log.count("Booting worker") == 2, log
    assert "Traceback" not in log and "exited with code" not in log, log
    # the access log is on and redacted
    assert '"POST /webhooks/salesforce/1?token=[redacted]' in log, log
    assert "?code=[redacted]" in log and "/journey/1/0031?token=[redacted]" in log, log
    for secret in ("SF-SECRET-1", "DYN-SECRET-2", "JOURNEY-SECRET-3", "REFERER-SECRET-4"):
        assert secret not in log


def test_web_refuses_an_unmigrated_schema_naming_the_command(
        tmp_path: Path, postgres_url: str, redis_server_url: str) -> None:
    env = production_env(tmp_path, postgres_url, redis_server_url)
    web = run_line(procfile()["web"], env, tmp_path / "web.log")
    try:
        code = web.wait(timeout=60)
    finally:
        stop(web)
    log = (tmp_path / "web.log").read_text()
    assert code != 0
    assert "Run `cem-connector migrate`" in log and "Traceback" not in log, log
    assert "Booting worker" not in log  # refused in the master, before any worker


def test_web_refuses_weak_production_settings_in_one_line(tmp_path: Path, postgres_url: str,
                                                         redis_server_url: str) -> None:
    env = production_env(tmp_path, postgres_url, redis_server_url, CEM_ADMIN_TOKEN="short",
                         CEM_PUBLIC_URL="http://cem.example.test")
    web = run_line(procfile()["web"], env, tmp_path / "web.log")
    try:
        code = web.wait(timeout=60)
    finally:
        stop(web)
    log = (tmp_path / "web.log").read_text()
    assert code != 0 and "Traceback" not in log and "Booting worker" not in log, log
    assert "CEM_ADMIN_TOKEN has 5 characters" in log and "CEM_PUBLIC_URL" in log


def test_worker_refuses_an_unmigrated_schema(tmp_path: Path, postgres_url: str, redis_server_url: str) -> None:
    env = production_env(tmp_path, postgres_url, redis_server_url)
    result = subprocess.run([str(BIN / "cem-connector"), "worker", "--burst"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "cem-connector migrate" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_concurrent_migrations_wait_for_each_other(tmp_path: Path, postgres_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_url, "CEM_DATA_DIR": str(tmp_path / "data")}
    runs = [subprocess.Popen([str(BIN / "cem-connector"), "migrate"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum("migrated from an empty schema" in out for out in outputs) == 1, outputs
    assert sum("already at migration" in out for out in outputs) == 2, outputs


def test_an_older_version_refuses_a_schema_a_newer_one_migrated(tmp_path: Path, postgres_url: str,
                                                                 redis_server_url: str) -> None:
    from sqlalchemy import create_engine, text

    from connector.store import Store

    store = Store(postgres_url)
    store.upgrade()
    store.dispose()
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    env = production_env(tmp_path, postgres_url, redis_server_url)
    result = subprocess.run([str(BIN / "cem-connector"), "worker", "--burst"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "0099_from_the_future, which this version does not know" in result.stderr, result.stderr
