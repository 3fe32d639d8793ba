"""The CLI: every command explains itself, and errors are messages, not tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.conftest import make_env

COMMANDS = ["connect", "install", "backfill", "reconcile", "serve", "worker", "scheduler", "demo", "status",
            "replay", "forget", "journey-link", "rotate-secret", "analyze", "export", "migrate"]


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # the first line of help says what the command does, in a sentence
    description = result.output.split("\n\n")[1].strip()
    assert len(description) > 20


def test_unknown_platform_is_a_clear_error(tmp_path: Path, embedded_redis: str) -> None:
    result = CliRunner().invoke(main, ["install", "zoho"], env=make_env(tmp_path, redis_url=embedded_redis))
    assert result.exit_code == 2
    assert "zoho" in result.output and "Traceback" not in result.output


def test_status_and_forget_on_an_empty_install(tmp_path: Path, embedded_redis: str) -> None:
    env = make_env(tmp_path, redis_url=embedded_redis)
    result = CliRunner().invoke(main, ["status"], env=env)
    assert result.exit_code == 0, result.output
    assert "No errors" in result.output
    result = CliRunner().invoke(main, ["forget", "123"], env=env)
    assert result.exit_code == 1
    assert "No connection yet" in result.output


def test_production_refuses_generated_secrets(tmp_path: Path, embedded_redis: str) -> None:
    env = make_env(tmp_path, redis_url=embedded_redis, CEM_ENV="production", DATABASE_URL="postgresql://db/cem")
    result = CliRunner().invoke(main, ["status"], env=env)
    assert result.exit_code == 1
    assert "CEM_SECRET_KEY, CEM_ADMIN_TOKEN, CEM_SIGNING_KEY are not set" in result.output
