"""An admin's first session, through the CLI, against the HubSpot sandbox over HTTP:
connect -> install (dry run, real, again) -> backfill -> status -> journey link -> forget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from sandbox.dataset import demo_records
from sandbox.hubspot import HubSpotSandbox
from tests.conftest import make_env

CONTACTS = 12


@pytest.fixture
def sandbox() -> HubSpotSandbox:
    crm = HubSpotSandbox()
    crm.seed(demo_records(CONTACTS))
    crm.start()
    yield crm
    crm.stop()


def test_admin_first_session(tmp_path: Path, sandbox: HubSpotSandbox, redis_server_url: str) -> None:
    env = make_env(tmp_path, redis_url=redis_server_url)
    run = CliRunner().invoke
    settings, credentials = sandbox.connection_settings()

    result = run(main, ["connect", "hubspot", "--name", "acme",
                        *[f"--setting={k}={v}" for k, v in settings.items()],
                        *[f"--credential={k}={v}" for k, v in credentials.items()]], env=env)
    assert result.exit_code == 0, result.output
    assert "Connection 1" in result.output and "/webhooks/hubspot/1" in result.output
    assert credentials["access_token"] not in result.output  # secrets are never echoed

    result = run(main, ["install", "hubspot", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was changed" in result.output
    assert not any(p.startswith("cem_") for p in _property_names(sandbox))

    result = run(main, ["install", "hubspot"], env=env)
    assert result.exit_code == 0, result.output
    assert {f"cem_{k}" for k in ("journey_stage", "emotion_score", "churn_reason_detail")} <= _property_names(sandbox)

    result = run(main, ["install", "hubspot"], env=env)
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output

    result = run(main, ["backfill"], env=env)
    assert result.exit_code == 0, result.output
    assert f"Queued {CONTACTS} contacts" in result.output
    for contact_id in sandbox.contact_ids():
        assert sandbox.contact_record(contact_id)["properties"].get("cem_journey_stage")

    result = run(main, ["backfill"], env=env)  # the finished backfill starts over, writing nothing new
    assert result.exit_code == 0, result.output

    result = run(main, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    connection = status["connections"][0]
    assert connection["contacts_written"] == CONTACTS
    assert connection["dead_letters"] == 0
    assert connection["api_calls_today"] > 0
    assert connection["backfill"]["status"] == "done"

    contact_id = sandbox.contact_ids()[0]
    export = tmp_path / "export.jsonl"
    result = run(main, ["export", "--contact", contact_id, "-o", str(export)], env=env)
    assert result.exit_code == 0, result.output
    result = run(main, ["analyze", str(export), "--json"], env=env)
    assert result.exit_code == 0, result.output
    replayed = json.loads(result.output.strip().splitlines()[0])
    on_record = sandbox.contact_record(contact_id)["properties"]
    assert replayed["contact_id"] == contact_id
    assert replayed["churn_reason"] == on_record["cem_churn_reason"]  # support sees what the rep sees
    assert replayed["journey_stage"] == on_record["cem_journey_stage"]

    result = run(main, ["journey-link", contact_id], env=env)
    assert result.exit_code == 0, result.output
    assert f"/journey/1/{contact_id}?token=" in result.output

    result = run(main, ["forget", contact_id], env=env)
    assert result.exit_code == 0, result.output
    assert "rows removed" in result.output
    status = json.loads(run(main, ["status", "--json"], env=env).output)
    assert status["connections"][0]["contacts_written"] == CONTACTS - 1


def _property_names(sandbox: HubSpotSandbox) -> set[str]:
    import requests

    token = sandbox.connection_settings()[1]["access_token"]
    response = requests.get(f"{sandbox.url}/crm/v3/properties/contacts",
                            headers={"Authorization": f"Bearer {token}"}, timeout=5)
    return {p["name"] for p in response.json()["results"]}
