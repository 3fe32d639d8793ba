"""`forget` on an unknown id and the `backfill` summary, against the HubSpot sandbox over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.base import ConnectionInfo, FieldUpdate
from connector.cli import main
from tests.conftest import make_env
from tests.test_adapter_hubspot import RECORDS


@pytest.fixture
def hubspot() -> Iterator[Any]:
    from sandbox.hubspot import HubSpotSandbox

    box = HubSpotSandbox()
    box.start()
    box.seed(RECORDS)
    yield box
    box.stop()


@pytest.fixture
def env(tmp_path: Path, embedded_redis: str, hubspot: Any) -> dict[str, str]:
    from connector.config import Settings
    from connector.connections import create_connection
    from connector.crypto import SecretBox
    from connector.store import Store

    env = make_env(tmp_path, redis_url=embedded_redis)
    settings = Settings.from_env(env)
    store = Store(settings.database_url)
    store.upgrade()
    crm_settings, credentials = hubspot.connection_settings()
    create_connection(store, SecretBox(settings.secret_key), platform="hubspot", name="acme", settings=crm_settings,
                      credentials=credentials, account_id=str(hubspot.portal_id))
    store.dispose()
    return env


def cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, terminal_width=200)


def test_forget_an_unknown_id_says_so_and_reports_the_crm_record(env: dict[str, str], hubspot: Any) -> None:
    result = cli(env, "forget", "999999")
    assert result.exit_code == 1, result.output
    assert "Nothing is stored about contact 999999" in result.output
    assert "The CRM has no contact 999999" in result.output

    # a contact the connector never analysed locally, but whose CRM record carries CEM fields
    contact = hubspot.native_contact_id("c2")
    from adapters.hubspot import HubSpotAdapter

    crm_settings, credentials = hubspot.connection_settings()
    adapter = HubSpotAdapter(ConnectionInfo(1, "hubspot", crm_settings, credentials))
    adapter.provision()
    assert adapter.write_fields([FieldUpdate(contact, {"journey_stage": "awareness", "churn_risk": 12})]).succeeded
    result = cli(env, "forget", contact)
    assert result.exit_code == 1
    assert f"The CRM record {contact} still holds CEM fields" in result.output and "journey_stage" in result.output


def test_backfill_ends_with_a_summary_and_forget_then_succeeds(env: dict[str, str], hubspot: Any) -> None:
    assert cli(env, "install", "hubspot").exit_code == 0
    first = cli(env, "backfill")
    assert first.exit_code == 0, first.output
    match = re.search(r"Backfill finished: (\d+) contacts read, (\d+) written, (\d+) unchanged, (\d+) failed\.",
                      first.output)
    assert match, first.output
    read, written, unchanged, failed = map(int, match.groups())
    assert (read, failed) == (3, 0) and written + unchanged == 3 and written >= 1

    again = cli(env, "backfill", "--restart")
    assert "Backfill finished: 3 contacts read, 0 written, 3 unchanged, 0 failed." in again.output, again.output

    contact = hubspot.native_contact_id("c1")
    result = cli(env, "forget", contact)
    assert result.exit_code == 0, result.output
    assert f"Forgot contact {contact}" in result.output and "still holds CEM fields" in result.output
