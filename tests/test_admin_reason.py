"""An admin-defined churn reason end to end, without code: engine config -> engine -> install and package
(per CRM, against the sandbox CRMs over real HTTP) -> write -> read back; and the demo's story check."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ConnectionInfo, CRMAdapter, FieldUpdate
from adapters.dynamics.mapping import ColumnNaming
from adapters.dynamics.package import DynamicsPackage
from adapters.errors import UnknownOption
from adapters.fields import CEM_FIELDS, FIELDS_BY_KEY, REASON_CODES, cem_fields, reason_code
from adapters.packaging import PackageContext
from adapters.salesforce.package import SalesforcePackage
from cem_engine import analyze
from cem_engine.config import config_from_mapping, load_config
from cem_engine.exchange import read_records
from connector.registry import get_platform
from demo.run import DEMO_ENGINE_CONFIG, story_matches
from sandbox import sandbox_class
from sandbox.dataset import demo_records

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CONFIG = load_config(DEMO_ENGINE_CONFIG)
FIELDS = cem_fields(CONFIG.taxonomy)
REASON = {spec.key: spec for spec in FIELDS}["churn_reason"]


# -- the field specs -------------------------------------------------------------------------------
def test_churn_reason_options_come_from_the_configured_taxonomy() -> None:
    assert REASON.options[-2:] == ("late_delivery", "none")
    assert REASON.option_label("late_delivery") == "Late delivery"
    assert REASON.option_label("pricing_value") == "Pricing / value"  # the taxonomy's label, not the key's
    assert cem_fields(None) is CEM_FIELDS
    services = cem_fields(config_from_mapping({"reasons": {"taxonomy": "services_commerce"}}).taxonomy)
    assert "refund_delay" in {s.key: s for s in services}["churn_reason"].options


def test_option_codes_never_renumber_when_reasons_are_added() -> None:
    packaged = FIELDS_BY_KEY["churn_reason"]
    assert [packaged.option_code(o) for o in packaged.options] == list(range(11))  # as before taxonomies
    assert [REASON.option_code(o) for o in packaged.options] == list(range(11))
    assert 1000 <= REASON.option_code("late_delivery") <= 9999
    more = config_from_mapping({"reasons": {"aa_first": {"label": "A", "examples": ["x one", "x two", "x three"]},
                                            "late_delivery": {"label": "Late", "examples": ["a b", "c d", "e f"]}}})
    again = {s.key: s for s in cem_fields(more.taxonomy)}["churn_reason"]
    assert again.option_code("late_delivery") == REASON.option_code("late_delivery")
    assert again.option_code("none") == REASON_CODES["none"] == 10
    assert reason_code("late_delivery") not in REASON_CODES.values()


# -- the engine ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sentence", [
    "Our order of barcode printers is now three weeks overdue and the arrival date keeps moving.",
    "The terminals were supposed to be here by the 1st; it's the 20th and we still have nothing.",
    "The replacement units are late again and our launch had to be postponed.",
])
def test_the_engine_picks_the_admin_reason_for_a_paraphrase_not_in_its_examples(sentence: str) -> None:
    reason = CONFIG.taxonomy.reasons["late_delivery"]
    assert sentence not in reason.examples and not any(cue in sentence.lower() for cue in reason.cues)
    records = [
        {"record": "contact", "contact_id": "c1", "lifecycle_stage": "customer"},
        {"record": "deal", "contact_id": "c1", "id": "d1", "name": "Plan", "stage": "closedwon",
         "type": "new_business", "amount": 1000, "created": "2025-10-01", "close_date": "2025-11-01"},
        {"record": "interaction", "contact_id": "c1", "id": "i1", "kind": "email", "direction": "inbound",
         "occurred_at": "2026-05-20T10:00:00Z", "subject": "Order", "body": sentence},
    ]
    [contact] = read_records(json.dumps(r) for r in records)
    assert analyze(contact, now=NOW, config=CONFIG).churn_reason == "late_delivery"
    assert analyze(contact, now=NOW).churn_reason != "late_delivery"  # the packaged config has no such reason


# -- install and write, per CRM, against the sandbox CRMs ----------------------------------------------
@pytest.fixture(params=["hubspot", "salesforce", "dynamics"])
def crm(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    box = sandbox_class(request.param)()
    box.seed(demo_records(2, now=NOW))
    box.start()
    yield request.param, box
    box.stop()


def adapter(name: str, box: Any, fields: Any) -> CRMAdapter:
    settings, credentials = box.connection_settings()
    cls = get_platform(name).adapter_class()
    kwargs = {"sleep": lambda _: None} if name == "salesforce" else {}
    return cls(ConnectionInfo(1, name, settings, credentials, fields=fields), **kwargs)


def test_install_adds_the_admin_reason_once_and_writes_need_it(crm: tuple[str, Any]) -> None:
    name, box = crm
    before = adapter(name, box, CEM_FIELDS)
    before.provision()
    contact = box.contact_ids()[0]

    configured = adapter(name, box, FIELDS)
    failed = configured.write_fields([FieldUpdate(contact, {"churn_reason": "late_delivery"})]).failed
    assert isinstance(failed.get(contact), UnknownOption), failed
    assert f"run `cem-connector install {name}`" in str(failed[contact])

    plan = configured.provision(dry_run=True)
    changed = [s for s in plan.steps if s.action in ("create", "update")]  # (Dynamics also publishes)
    assert len(changed) == 1 and "churn" in changed[0].target.lower() and "late_delivery" in changed[0].detail

    report = configured.provision()
    assert [s.detail for s in report.steps if s.action in ("create", "update")] == [changed[0].detail]
    assert not [s for s in configured.provision().steps if s.action in ("create", "update")]  # idempotent

    result = configured.write_fields([FieldUpdate(contact, {"churn_reason": "late_delivery"})])
    assert result.succeeded == [contact], result.failed
    assert configured.read_fields([contact])[contact]["churn_reason"] == "late_delivery"
    # the packaged options are still there, and written values of them still read back
    assert configured.write_fields([FieldUpdate(contact, {"churn_reason": "pricing_value"})]).succeeded == [contact]
    assert configured.read_fields([contact])[contact]["churn_reason"] == "pricing_value"


def test_switching_taxonomy_keeps_the_options_records_may_hold(crm: tuple[str, Any]) -> None:
    name, box = crm
    adapter(name, box, FIELDS).provision()
    services = cem_fields(config_from_mapping({"reasons": {"taxonomy": "services_commerce"}}).taxonomy)
    switched = adapter(name, box, services)
    switched.provision()
    contact = box.contact_ids()[0]
    for reason in ("refund_delay", "late_delivery", "relationship"):  # new, admin-added before, b2b before
        assert switched.write_fields([FieldUpdate(contact, {"churn_reason": reason})]).succeeded == [contact]
    assert switched.read_fields([contact])[contact]["churn_reason"] == "relationship"  # no longer configured


# -- packages -------------------------------------------------------------------------------------
def test_salesforce_package_lists_the_admin_reason() -> None:
    files = SalesforcePackage().files(PackageContext(connection_id=4, public_url="https://cem.example.com",
                                                     settings={"integration_user_id": "005000000000001AAA"},
                                                     fields=FIELDS))
    [xml] = [v.decode() for k, v in files.items() if k.endswith("Contact/fields/CEM_Churn_Reason__c.field-meta.xml")]
    assert "<fullName>late_delivery</fullName>" in xml and "<label>Late delivery</label>" in xml


def test_dynamics_solution_lists_the_admin_reason_with_its_stable_value(tmp_path: Path) -> None:
    files = DynamicsPackage().files(PackageContext(connection_id=9, public_url="https://cem.example.com",
                                                   fields=FIELDS, card_credential="x"))
    blob = files.get("customizations.xml") or next(
        zipfile.ZipFile(io.BytesIO(v)).read("customizations.xml") for v in files.values())
    text = blob.decode()
    value = ColumnNaming().option_value(REASON, "late_delivery")
    assert f'value="{value}"' in text and 'description="Late delivery"' in text


# -- the demo's closing check ----------------------------------------------------------------------
def test_story_matches_counts_the_admin_reason_apart() -> None:
    def row(reason: str, expected: str) -> dict[str, Any]:
        return {"platform": "HubSpot", "name": "n", "journey_stage": "adoption", "churn_reason": reason,
                "expected": {"journey_stage": "adoption", "churn_reason": expected}}

    rows = [row("late_delivery", "late_delivery"), row("relationship", "late_delivery"), row("none", "none")]
    [match] = story_matches(rows, added_reasons=("late_delivery",))
    assert (match.contacts, match.stage, match.reason, match.added, match.added_reason) == (3, 3, 2, 2, 1)


def test_demo_data_has_late_delivery_stories_only_when_asked() -> None:
    plain = demo_records(18, now=NOW)
    extended = demo_records(18, now=NOW, added={"late_delivery": 3})
    assert extended[:len(plain)] == plain  # the packaged stories do not move
    stories = [r for r in extended if r.get("record") == "contact"
               and r["expected"]["churn_reason"] == "late_delivery"]
    assert len(stories) == 3
    with pytest.raises(ValueError, match="no demo stories"):
        demo_records(1, added={"unknown_reason": 1})


# -- the admin's commands: CEM_ENGINE_CONFIG reaches install ------------------------------------------
def test_install_command_adds_the_reason_of_cem_engine_config(tmp_path: Path, redis_server_url: str) -> None:
    from click.testing import CliRunner

    from connector.cli import main
    from sandbox.hubspot import HubSpotSandbox
    from tests.conftest import make_env

    crm = HubSpotSandbox()
    crm.seed(demo_records(1, now=NOW))
    crm.start()
    try:
        env = make_env(tmp_path, redis_url=redis_server_url)
        settings, credentials = crm.connection_settings()
        run = CliRunner().invoke
        assert run(main, ["connect", "hubspot", "--name", "acme", *[f"--setting={k}={v}" for k, v in settings.items()],
                          *[f"--credential={k}={v}" for k, v in credentials.items()]], env=env).exit_code == 0
        assert run(main, ["install", "hubspot"], env=env).exit_code == 0  # packaged reasons only

        env["CEM_ENGINE_CONFIG"] = str(DEMO_ENGINE_CONFIG)  # the admin added late_delivery
        env["COLUMNS"] = "200"
        result = run(main, ["install", "hubspot", "--dry-run"], env=env)
        assert result.exit_code == 0, result.output
        assert "add options: late_delivery" in result.output and "nothing was changed" in result.output
        assert run(main, ["install", "hubspot"], env=env).exit_code == 0
        again = run(main, ["install", "hubspot"], env=env)
        assert "nothing changed" in again.output, again.output
        token = credentials["access_token"]
        import requests

        prop = requests.get(f"{crm.url}/crm/v3/properties/contacts/cem_churn_reason",
                            headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert {"label": "Late delivery", "value": "late_delivery"}.items() <= prop["options"][-1].items()
    finally:
        crm.stop()
