"""`cem-connector package hubspot`: the project passes HubSpot's own parser, and the app card, type-checked against
HubSpot's component types, renders sandbox data fetched with a v3-signed request."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.fields import CEM_FIELDS
from adapters.hubspot.mapping import property_name
from adapters.hubspot.package import HubSpotPackage
from adapters.packaging import PackageContext, PackageError, write_package
from connector.app import create_app
from connector.cli import main
from connector.connections import create_connection
from sandbox.server import ServerThread
from tests.conftest import make_env
from tests.crm_views import node_tool, sandbox_profile

PUBLIC = "https://cem.example.com"
SECRET = "hubspot-app-client-secret"


def _project(tmp_path: Path, connection_id: int = 7) -> Path:
    out = tmp_path / "project"
    write_package(HubSpotPackage(), PackageContext(connection_id=connection_id, public_url=PUBLIC), out)
    return out


def test_project_passes_hubspots_project_parser(tmp_path: Path) -> None:
    result = node_tool("hubspot/validate-project.mjs", str(_project(tmp_path)))
    assert result["ok"], result["problems"]
    assert result["platformVersion"] == "2026.03"
    components = result["components"]
    assert {c["type"] for c in components.values()} == {"APPLICATION", "CARD", "WEBHOOKS"}
    app_uid = next(uid for uid, c in components.items() if c["type"] == "APPLICATION")
    card = next(c for c in components.values() if c["type"] == "CARD")
    webhooks = next(c for c in components.values() if c["type"] == "WEBHOOKS")
    assert card["deps"]["app"] == app_uid and webhooks["deps"]["app"] == app_uid
    assert card["config"]["objectTypes"] == ["contacts"] and card["config"]["location"] == "crm.record.tab"
    app = components[app_uid]["config"]
    assert app["permittedUrls"]["fetch"] == [PUBLIC]
    assert "crm.schemas.contacts.write" in app["auth"]["requiredScopes"]
    settings, subscriptions = webhooks["config"]["settings"], webhooks["config"]["subscriptions"]
    assert settings["targetUrl"] == f"{PUBLIC}/webhooks/hubspot/7"
    watched = {s.get("propertyName") for group in subscriptions.values() for s in group}
    assert "lifecyclestage" in watched
    assert not watched & {property_name(spec) for spec in CEM_FIELDS}, "own writes must raise no events"
    assert {"contact.privacyDeletion", "contact.deletion"} <= {s["subscriptionType"] for group in
                                                              subscriptions.values() for s in group}


def test_the_parser_rejects_a_broken_project(tmp_path: Path) -> None:
    """The validator can fail: a card without uid, in the wrong folder, with an unknown location."""
    project = _project(tmp_path)
    card = json.loads((project / "src/app/cards/cem-card-hsmeta.json").read_text())
    del card["uid"]
    card["config"]["location"] = "crm.sidebar.somewhere"
    (project / "src/app/cem-card-hsmeta.json").write_text(json.dumps(card))
    (project / "src/app/cards/cem-card-hsmeta.json").unlink()
    result = node_tool("hubspot/validate-project.mjs", str(project))
    assert not result["ok"] and result["exit_code"] == 1
    problems = "\n".join(result["problems"])
    assert "uid" in problems and "location" in problems


def test_http_public_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="CEM_PUBLIC_URL"):
        HubSpotPackage().files(PackageContext(connection_id=1, public_url="http://127.0.0.1:8000"))


def test_cli_writes_the_project_for_the_connection(tmp_path: Path, redis_server_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(tmp_path, redis_url=redis_server_url, CEM_PUBLIC_URL=PUBLIC)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    from connector.config import Settings
    from connector.runtime import Runtime
    rt = Runtime(Settings.from_env(env))
    try:
        connection = create_connection(rt.store, rt.box, platform="hubspot", name="acme", settings={},
                                       credentials={}, webhook_secrets=[SECRET], account_id="111")
    finally:
        rt.close()
    result = runner.invoke(main, ["package", "hubspot", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "hs project upload" in result.output
    app_card = (tmp_path / "out/src/app/cards/CemCard.tsx").read_text()
    assert f"{PUBLIC}/cards/hubspot/{connection}/summary" in app_card
    again = runner.invoke(main, ["package", "hubspot", "-o", str(tmp_path / "out")])
    assert again.exit_code == 1 and "not empty" in again.output
    wrong = runner.invoke(main, ["package", "salesforce", "-o", str(tmp_path / "sf"), "--connection",
                                 str(connection)])
    assert wrong.exit_code == 1 and "is a hubspot connection" in wrong.output


def test_app_card_renders_sandbox_data_through_a_signed_fetch(tmp_path: Path, runtime_factory,  # type: ignore[no-untyped-def]
                                                              redis_server_url: str) -> None:
    rt = runtime_factory(redis_server_url)
    rt.settings = replace(rt.settings, public_url=PUBLIC)
    sandbox, connection, contact, profile = sandbox_profile(rt, "hubspot", SECRET)
    server = ServerThread(create_app(rt)).start()  # stands behind https://cem.example.com
    try:
        write_package(HubSpotPackage(), PackageContext(connection_id=connection, public_url=PUBLIC),
                      tmp_path / "project")
        card = str(tmp_path / "project/src/app/cards/CemCard.tsx")
        env = {"CEM_CLIENT_SECRET": SECRET, "CEM_PROXY_TARGET": server.url}
        # the analysed contact; one the connector has not seen; the analysed one with a wrong client secret
        result = node_tool("hubspot/render-card.mjs", card, contact, "999999", f"{contact}@not-the-secret", env=env)
        assert result["ok"], result
        rendered, pending, refused = result["renders"]
        assert rendered["requests"] == [{"url": f"{PUBLIC}/cards/hubspot/{connection}/summary", "method": "POST",
                                         "status": 200}]
        ids = rendered["testIds"]
        assert ids["cem-stage"].startswith(profile["journey_stage"].capitalize() + " since ")
        assert ids["cem-reason"] == profile["churn_reason"].replace("_", " ").capitalize()
        assert f"({profile['churn_risk']})" in ids["cem-risk"]
        assert profile["explanation"]["reason_evidence"][0]["quote"] in ids["cem-quote"]
        assert {"label": "Churn risk", "number": profile["churn_risk"]} in rendered["statistics"]
        journey = next(link for link in rendered["links"] if link["text"] == "Open the full journey map")
        assert journey["href"]["url"].startswith(f"{PUBLIC}/journey/{connection}/{contact}?token=")

        assert "cem-loaded" not in pending["testIds"]  # says so instead of failing
        assert "No CEM analysis" in pending["testIds"]["cem-pending-message"]
        assert refused["requests"][0]["status"] == 401
        assert "signature" in refused["testIds"]["cem-error-message"].lower()

        # the type check bites: a Tag variant HubSpot does not have
        source = Path(card).read_text().replace("variant={RISK_VARIANTS[risk.band]}", 'variant="purple"')
        Path(card).write_text(source)
        broken = node_tool("hubspot/render-card.mjs", card, contact, env=env)
        assert not broken["ok"] and any("purple" in problem for problem in broken["problems"])
    finally:
        server.stop()
        sandbox.stop()
