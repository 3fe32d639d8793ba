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
