"""`cem-connector analyze`: table, --json, stdin, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from connector.commands.analyze import JSON_KEYS, analyze_command
from sandbox.dataset import demo_records, write_jsonl

NOW = "2026-06-01T12:00:00Z"


def _demo_file(tmp_path: Path, count: int = 18) -> Path:
    path = tmp_path / "demo.jsonl"
    write_jsonl(path, demo_records(count, now=datetime(2026, 6, 1, 12, tzinfo=UTC)))
    return path


def test_json_output_one_object_per_contact(tmp_path: Path) -> None:
    result = CliRunner().invoke(analyze_command, [str(_demo_file(tmp_path)), "--now", NOW, "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 18
    assert all(tuple(row) == JSON_KEYS for row in rows)
    first = rows[0]
    assert first["contact_id"] == "demo-001" and first["churn_reason"] == "onboarding_confusion"
    assert first["explanation"]["reason_evidence"][0]["kind"] in ("email", "chat")


def test_now_makes_results_reproducible(tmp_path: Path) -> None:
    path = str(_demo_file(tmp_path, 4))
    runs = [CliRunner().invoke(analyze_command, [path, "--now", NOW, "--json"]).output for _ in range(2)]
    assert runs[0] == runs[1]


def test_table_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(analyze_command, [str(_demo_file(tmp_path, 3)), "--now", NOW])
    assert result.exit_code == 0, result.output
    assert "Customer Experience Mapping" in result.output and "demo-002" in result.output
    assert "poorly_timed_upsell" in result.output


def test_stdin() -> None:
    lines = "\n".join(json.dumps(r) for r in demo_records(2, now=datetime(2026, 6, 1, tzinfo=UTC)))
    result = CliRunner().invoke(analyze_command, ["-", "--json", "--now", NOW], input=lines)
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2


def test_config_option(tmp_path: Path) -> None:
    config = tmp_path / "engine.toml"
    config.write_text("[stages]\nat_risk_threshold = 0\n", encoding="utf-8")
    result = CliRunner().invoke(analyze_command, [str(_demo_file(tmp_path, 3)), "--now", NOW, "--json",
                                                  "--config", str(config)])
    assert {json.loads(line)["journey_stage"] for line in result.output.splitlines()} == {"at_risk"}


def test_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(analyze_command, [str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "file not found" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"record":"contact","contact_id":"a"}\n{"record":"deal"\n', encoding="utf-8")
    result = runner.invoke(analyze_command, [str(bad), "--json"])
    assert result.exit_code == 0 and "bad.jsonl:line 2: invalid JSON" in result.stderr
    assert json.loads(result.stdout)["contact_id"] == "a"  # the good line is still analysed
    strict = runner.invoke(analyze_command, [str(bad), "--strict"])
    assert strict.exit_code == 1 and "line 2" in strict.stderr
    assert "Traceback" not in result.output + strict.output
    wrong_now = runner.invoke(analyze_command, [str(bad), "--now", "soon"])
    assert wrong_now.exit_code == 2 and "not an ISO date-time" in wrong_now.output
    config = tmp_path / "engine.toml"
    config.write_text("[emotion]\nhalf_life_days = -1\n", encoding="utf-8")
    bad_config = runner.invoke(analyze_command, [str(bad), "--config", str(config)])
    assert bad_config.exit_code == 1 and "half_life_days" in bad_config.output
