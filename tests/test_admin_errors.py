"""Infrastructure failures: one line saying what is wrong and what to do, exit 1, no traceback.

Real processes (`cem-connector ...` as an admin types it), real refused ports; `--debug` shows the traceback.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from connector.logs import RedactSecrets

BIN = Path(sys.executable).parent


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CEM_ENV", "CEM_DEBUG")}
    return subprocess.run([str(BIN / "cem-connector"), *args], capture_output=True, text=True, timeout=60,
                          env={**base, "CEM_DATA_DIR": str(tmp_path / "data"), **env})


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("env", "expected"), [
    ({"DATABASE_URL": "postgresql://cem:hunter2@127.0.0.1:{port}/cem"}, "Cannot reach the database at"),
    ({"DATABASE_URL": "mysql://cem:hunter2@127.0.0.1/cem"}, "needs the Python driver 'MySQLdb'"),
    ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
    ({"DATABASE_URL": "mongodb://cem:hunter2@127.0.0.1/cem"}, "names a database this connector does not support"),
    ({"REDIS_URL": "http://127.0.0.1:{port}"}, "is not a Redis URL"),
    ({"REDIS_URL": "redis://:hunter2@127.0.0.1:{port}/0"}, "Cannot reach Redis at redis://:***@127.0.0.1"),
])
def test_infrastructure_failures_are_one_actionable_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    port = closed_port()
    env = {k: v.format(port=port) for k, v in env.items()}
    line = one_line_error(cli(tmp_path, "worker", "--burst", **env))
    assert expected in line
    assert "hunter2" not in line  # passwords never echoed
    assert any(word in line for word in ("Check", "Use", "install", "Start", "Fix"))  # says what to do


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = cli(tmp_path, "--debug", "worker", "--burst", DATABASE_URL=f"postgresql://127.0.0.1:{closed_port()}/x")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "DatabaseUnreachable" in result.stderr


def test_status_exits_non_zero_when_the_queue_is_unreachable(tmp_path: Path) -> None:
    result = cli(tmp_path, "status", REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert result.returncode == 1
    assert "Cannot reach Redis" in result.stdout
    result = cli(tmp_path, "status", "--json", REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert result.returncode == 1


def test_status_exits_non_zero_when_the_database_is_unreachable(tmp_path: Path) -> None:
    line = one_line_error(cli(tmp_path, "status", DATABASE_URL=f"postgresql://127.0.0.1:{closed_port()}/x"))
    assert "Cannot reach the database" in line


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_refuses_the_embedded_defaults_naming_the_variable(tmp_path: Path, missing: str) -> None:
    env = {"CEM_ENV": "production", "DATABASE_URL": "postgresql://127.0.0.1/cem", "REDIS_URL": "redis://127.0.0.1/0",
           "CEM_SECRET_KEY": "k", "CEM_ADMIN_TOKEN": "a", "CEM_SIGNING_KEY": "s"}
    del env[missing]
    for command in (["worker", "--burst"], ["migrate"], ["status"]):
        result = cli(tmp_path, *command, **env)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"CEM_ENV=production but {missing} is not set" in result.stderr
    assert not (tmp_path / "data" / "redis.db").exists() and not (tmp_path / "data" / "cem-connector.db").exists()


def test_redaction_handles_gunicorns_dict_arguments() -> None:
    from gunicorn.glogging import SafeAtoms

    atoms = SafeAtoms({"r": "GET /webhooks/dynamics/3?code=abc&x=1 HTTP/1.1", "U": "/journey/1/2",
                       "q": "token=j.w.t", "{referer}i": "https://crm/?access_token=zzz", "s": 200})
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '"%(r)s" %(q)s %({referer}i)s %(s)s',
                               (atoms,), None)
    assert RedactSecrets().filter(record)
    line = record.getMessage()
    assert line == '"GET /webhooks/dynamics/3?code=[redacted]&x=1 HTTP/1.1" token=[redacted] ' \
                   'https://crm/?access_token=[redacted] 200', line


def test_production_lists_missing_variables_one_a_line(tmp_path: Path) -> None:
    result = cli(tmp_path, "status", CEM_ENV="production")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(line.strip().startswith("DATABASE_URL:") for line in lines), result.stderr
    assert any(line.strip().startswith("CEM_SIGNING_KEY:") for line in lines), result.stderr
    assert max(len(line) for line in lines) < 160, result.stderr  # a short list, not one 600-character line


@pytest.mark.parametrize("value", ["prod", "Production", "staging"])
def test_unknown_cem_env_is_refused_naming_the_allowed_values(tmp_path: Path, value: str) -> None:
    for command in (["worker", "--burst"], ["status"]):
        line = one_line_error(cli(tmp_path, *command, CEM_ENV=value))
        assert f"CEM_ENV is {value!r}" in line and "development, production" in line
    assert not (tmp_path / "data" / "secrets").exists()  # nothing generated for a misspelt production


def _strong_production(**overrides: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {"CEM_ENV": "production", "DATABASE_URL": f"postgresql://127.0.0.1:{closed_port()}/cem",
            "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0", "CEM_SECRET_KEY": Fernet.generate_key().decode(),
            "CEM_ADMIN_TOKEN": "a" * 32, "CEM_SIGNING_KEY": "s" * 40, "CEM_PUBLIC_URL": "https://cem.example.com",
            **overrides}


@pytest.mark.parametrize(("override", "expected"), [
    ({"CEM_PUBLIC_URL": "cem.example.com"}, "CEM_PUBLIC_URL is 'cem.example.com'"),
    ({"CEM_ADMIN_TOKEN": "x"}, "CEM_ADMIN_TOKEN has 1 characters"),
])
def test_every_process_refuses_weak_production_values(tmp_path: Path, override: dict[str, str],
                                                      expected: str) -> None:
    for command in (["worker", "--burst"], ["scheduler"], ["status"], ["migrate"]):
        result = cli(tmp_path, *command, **_strong_production(**override))
        assert result.returncode == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        assert expected in result.stderr, (command, result.stderr)


@pytest.mark.parametrize("command", [["worker", "--burst"], ["scheduler", "--rounds", "1"]])
def test_a_redis_database_number_out_of_range_is_one_line(tmp_path: Path, command: list[str]) -> None:
    result = cli(tmp_path, *command, REDIS_URL="redis://127.0.0.1:6379/99")
    line = one_line_error(result)
    assert "has no database 99" in line and "redis://host:6379/0" in line
    assert "Warning" not in result.stderr  # rq's start-up noise never comes


def test_status_names_a_redis_database_out_of_range(tmp_path: Path) -> None:
    result = cli(tmp_path, "status", REDIS_URL="redis://127.0.0.1:6379/99")
    assert result.returncode == 1
    assert "has no database 99" in " ".join(result.stdout.split())


def test_a_record_through_logger_and_handler_filters_is_redacted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """install_redaction puts the filter on gunicorn.access and on its handler: one rewrite per access line."""
    import connector.logs as logs

    calls: list[str] = []
    real = logs.redact
    monkeypatch.setattr(logs, "redact", lambda text: calls.append(text) or real(text))
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%s %s",
                               ("GET /webhooks/salesforce/1?token=abc HTTP/1.1", "200"), None)
    assert RedactSecrets().filter(record) and RedactSecrets().filter(record)
    assert record.getMessage() == "GET /webhooks/salesforce/1?token=[redacted] HTTP/1.1 200"
    assert len(calls) == 3  # the message and the two arguments, once each
