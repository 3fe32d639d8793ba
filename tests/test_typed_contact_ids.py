"""An admin types a contact id as the CRM showed it: Salesforce Classic URLs and reports show 15-character
ids while the API (and so the connector) stores 18; Dataverse GUIDs get pasted in capitals or braces.
`forget` and `journey-link` must find the person either way (GDPR: a miss would leave them stored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.dynamics import DynamicsAdapter
from adapters.hubspot import HubSpotAdapter
from adapters.salesforce import SalesforceAdapter
from connector.cli import main
from connector.config import Settings
from connector.connections import create_connection
from connector.runtime import Runtime
from connector.store import ContactAnalysis
from tests.conftest import make_env

ID15, ID18 = "001A0000006Vm9r", "001A0000006Vm9rIAC"  # Salesforce's documented example
GUID = "5f1c2a9e-0b7d-4e55-9a43-0c2d7a1e9b10"


def test_each_platform_states_its_stored_form() -> None:
    assert SalesforceAdapter.contact_id_form(ID15) == ID18
    assert SalesforceAdapter.contact_id_form(ID18.lower()[:15] + "iac") != ID18  # 15-char ids are case-sensitive
    assert DynamicsAdapter.contact_id_form("{" + GUID.upper() + "}") == GUID
    assert HubSpotAdapter.contact_id_form(" 101 ") == "101"


@pytest.mark.parametrize(("platform", "typed", "stored"), [("salesforce", ID15, ID18),
                                                           ("dynamics", "{" + GUID.upper() + "}", GUID)])
def test_forget_finds_the_person_however_the_id_was_copied(tmp_path: Path, redis_server_url: str, platform: str,
                                                           typed: str, stored: str) -> None:
    env = make_env(tmp_path, redis_url=redis_server_url)
    rt = Runtime(Settings.from_env(env))
    try:
        # An unreachable CRM: forget still clears what the connector stored and says it could not check the CRM.
        connection_id = create_connection(rt.store, rt.box, platform=platform, name="org",
                                          settings={"instance_url": "http://127.0.0.1:9", "org_url": "http://127.0.0.1:9"},
                                          credentials={"access_token": "x"})
        with rt.store.session() as session:
            session.add(ContactAnalysis(connection_id=connection_id, contact_id=stored, profile={}, desired={}))
        link = CliRunner().invoke(main, ["journey-link", typed], env=env)
        assert link.exit_code == 0, link.output
        assert f"/journey/{connection_id}/{stored}?token=" in link.output
        result = CliRunner().invoke(main, ["forget", typed], env=env)
        assert result.exit_code == 0, result.output
        assert f"Forgot contact {stored}" in result.output and "rows removed" in result.output
        with rt.store.session() as session:
            assert session.get(ContactAnalysis, (connection_id, stored)) is None
        assert rt.suppressed.allowed(connection_id, [stored]) == []  # stays forgotten when the API sends 18
    finally:
        rt.close()
