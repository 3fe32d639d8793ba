"""Newcomer findings: a command that names something that does not exist says so and exits non-zero;
secrets stay out of the access log however their names are encoded."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.logs import RedactSecrets, redact
from tests.conftest import make_env


@pytest.fixture
def env(tmp_path: Path, embedded_redis: str) -> dict[str, str]:
    env = make_env(tmp_path, redis_url=embedded_redis)
    result = CliRunner().invoke(main, ["connect", "hubspot", "--no-check", "--credential", "access_token=pat-x",
                                       "--credential", "client_secret=s3", "--setting", "app_id=1"], env=env)
    assert result.exit_code == 0, result.output
    return env


def test_replay_of_an_unknown_dead_letter_says_so_and_fails(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["replay", "--id", "999"], env=env)
    assert result.exit_code == 1, result.output
    assert "No dead letter 999" in result.output and "status" in result.output


def test_journey_link_for_a_contact_never_analysed_says_so_and_fails(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["journey-link", "--connection", "1", "nobody42"], env=env)
    assert result.exit_code == 1, result.output
    assert "nobody42 has not been analysed" in result.output and "/journey/" not in result.output


@pytest.mark.parametrize("line", [
    "GET /healthz?%74oken=secret127 HTTP/1.1",
    "GET /healthz?a=1&%2574oken=secret127 HTTP/1.1",  # encoded twice
    "GET /webhooks/dynamics/3?CODE=secret127 HTTP/1.1",
    "GET /x?client%5Fsecret=secret127&page=2 HTTP/1.1",
])
def test_percent_encoded_secret_names_are_redacted(line: str) -> None:
    assert "secret127" not in redact(line)
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%s", (line,), None)
    RedactSecrets().filter(record)
    assert "secret127" not in record.getMessage()


def test_harmless_parameters_stay_readable() -> None:
    assert redact("GET /admin?page=2&q=acme HTTP/1.1") == "GET /admin?page=2&q=acme HTTP/1.1"


def _one_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_connect_file_mistakes_are_one_line_each(tmp_path: Path, embedded_redis: str) -> None:
    env = make_env(tmp_path, redis_url=embedded_redis)
    bad = tmp_path / "bad.json"
    bad.write_text("{bad")
    runner = CliRunner()
    line = _one_line(runner.invoke(main, ["connect", "salesforce", "--no-check", "--credential",
                                          f"private_key=@{tmp_path / 'cem.key'}"], env=env))
    assert "cem.key does not exist" in line
    line = _one_line(runner.invoke(main, ["connect", "hubspot", "--no-check", "--credentials-file", str(bad)], env=env))
    assert "is not valid JSON" in line and "line 1, column 2" in line
    line = _one_line(runner.invoke(main, ["connect", "hubspot", "--no-check", "--credential", "access_token=@/etc"],
                                   env=env))
    assert "/etc is a directory" in line


def test_connect_to_an_unreachable_crm_is_one_line_suggesting_what_to_check(tmp_path: Path,
                                                                           embedded_redis: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = CliRunner().invoke(main, ["connect", "hubspot", "--credential", "access_token=pat-x", "--setting",
                                       f"api_base_url=http://127.0.0.1:{port}"], env=make_env(tmp_path,
                                                                                              redis_url=embedded_redis))
    line = _one_line(result)
    assert "Could not reach HubSpot" in line and "proxy" in line and "--no-check" in line


def test_connect_again_with_the_same_name_says_it_updated(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["connect", "hubspot", "--no-check", "--credential", "access_token=pat-y",
                                       "--setting", "app_id=1"], env=env)
    assert result.exit_code == 0, result.output
    assert "Updated connection 1 (hubspot/default)" in result.output


@pytest.mark.parametrize("platform", ["hubspot", "salesforce", "dynamics"])
def test_connect_refuses_an_unknown_setting_naming_the_known_ones(tmp_path: Path, embedded_redis: str,
                                                                 platform: str) -> None:
    from connector.registry import get_platform

    env = make_env(tmp_path, redis_url=embedded_redis)
    line = _one_line(CliRunner().invoke(main, ["connect", platform, "--no-check", "--setting", "bogus_key=1"],
                                        env=env))
    assert "no setting bogus_key" in line
    for key in get_platform(platform).adapter_class().known_settings():
        assert key in line
    status = CliRunner().invoke(main, ["status", "--json"], env=env)
    assert '"connections": []' in status.output  # nothing saved
