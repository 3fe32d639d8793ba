"""Dynamics adapter against the Dataverse sandbox over real HTTP (Web API on 127.0.0.1, Entra over TLS).

Covers install idempotency and dry run, OData reads and paging, the ``$batch`` round trip with a
failing change set, service protection 429s, token caching / refresh and auth errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.base import ConnectionInfo, FieldUpdate
from adapters.dynamics import DynamicsAdapter
from adapters.errors import AuthenticationError, NotFound, RateLimited
from sandbox.dynamics import DynamicsSandbox

logging.getLogger("werkzeug").setLevel(logging.ERROR)

RECORDS: list[dict[str, Any]] = [
    {"record": "contact", "contact_id": "c1", "first_name": "Ada", "last_name": "Byron", "email": "ada@example.com",
     "created": "2026-08-01"},
    {"record": "contact", "contact_id": "c2", "first_name": "Bo", "last_name": "Lind", "created": "2026-08-02"},
    {"record": "deal", "contact_id": "c1", "id": "d1", "name": "Pro plan", "stage": "closedwon", "amount": 1200,
     "created": "2026-08-01", "close_date": "2026-09-01"},
    {"record": "deal", "contact_id": "c1", "id": "d2", "name": "Pro plan renewal", "stage": "contractsent",
     "created": "2026-10-01", "close_date": "2027-09-01"},
    {"record": "interaction", "contact_id": "c1", "id": "i1", "kind": "email", "direction": "inbound",
     "occurred_at": "2026-09-12T10:00:00Z", "subject": "Setup", "body": "I am confused by the setup."},
    {"record": "interaction", "contact_id": "c1", "id": "i2", "kind": "email", "direction": "outbound",
     "occurred_at": "2026-09-12T11:00:00Z", "subject": "Re: Setup", "body": "Here is a guide."},
    {"record": "interaction", "contact_id": "c1", "id": "i3", "kind": "call", "direction": "inbound",
     "occurred_at": "2026-09-13T09:00:00Z", "subject": "Call", "body": "Called about SSO."},
    {"record": "interaction", "contact_id": "c1", "id": "i4", "kind": "note", "direction": "internal",
     "occurred_at": "2026-09-14T09:00:00Z", "subject": "Note", "body": "Follow up next week."},
    {"record": "interaction", "contact_id": "c1", "id": "i5", "kind": "ticket", "direction": "inbound",
     "occurred_at": "2026-09-15T09:00:00Z", "subject": "Login loop", "body": "SSO keeps looping."},
    {"record": "interaction", "contact_id": "c1", "id": "i6", "kind": "meeting", "direction": "outbound",
     "occurred_at": "2026-09-16T09:00:00Z", "subject": "Kickoff", "body": "Kickoff meeting."},
]


def adapter_for(sandbox: DynamicsSandbox, **overrides: Any) -> DynamicsAdapter:
    settings, credentials = sandbox.connection_settings()
    settings.update({k: v for k, v in overrides.items() if k != "client_secret"})
    if "client_secret" in overrides:
        credentials = {"client_secret": overrides["client_secret"]}
    return DynamicsAdapter(ConnectionInfo(1, "dynamics", settings, credentials))


@pytest.fixture
def sandbox() -> Iterator[DynamicsSandbox]:
    crm = DynamicsSandbox()
    crm.start()
    crm.seed(RECORDS)
    yield crm
    crm.stop()


@pytest.fixture
def adapter(sandbox: DynamicsSandbox) -> DynamicsAdapter:
    return adapter_for(sandbox)


# -- install ------------------------------------------------------------------------------------
def test_dry_run_plans_everything_and_writes_nothing(sandbox: DynamicsSandbox, adapter: DynamicsAdapter) -> None:
    plan = adapter.provision(dry_run=True)
    assert plan.dry_run and plan.changed
    assert {"create", "publish"} <= {s.action for s in plan.steps}
    assert not sandbox.org.attributes and not sandbox.org.rows["solutions"] and not sandbox.org.published
    assert not any(method in ("POST", "PATCH") for method, _ in sandbox.calls)


def test_install_creates_columns_in_solution_and_is_idempotent(sandbox: DynamicsSandbox,
                                                               adapter: DynamicsAdapter) -> None:
    first = adapter.provision()
    assert first.changed
    attributes = sandbox.org.attributes
    assert set(attributes) == {adapter.native_field_name(spec) for spec in adapter.fields}
    stage = attributes["cem_cemjourneystage"]
    assert stage["AttributeType"] == "Picklist" and stage["SolutionUniqueName"] == "cemconnector"
    assert [o["Value"] for o in stage["OptionSet"]["Options"]][:2] == [100000000, 100000001]
    assert attributes["cem_cememotionscore"]["AttributeType"] == "Decimal"
    assert attributes["cem_cemchurnrisk"]["AttributeType"] == "Integer"
    assert attributes["cem_cemchurnreasondetail"]["AttributeType"] == "Memo"
    assert attributes["cem_cemupdatedat"]["AttributeType"] == "DateTime"
    assert len(sandbox.org.published) == 1 and "<entity>contact</entity>" in sandbox.org.published[0]

    writes_before = sum(m in ("POST", "PATCH") for m, _ in sandbox.calls)
    second = adapter.provision()
    assert not second.changed, [s for s in second.steps if s.action != "unchanged"]
    assert sum(m in ("POST", "PATCH") for m, _ in sandbox.calls) == writes_before
    assert len(sandbox.org.published) == 1


def test_install_adds_a_missing_option(sandbox: DynamicsSandbox, adapter: DynamicsAdapter) -> None:
    adapter.provision()
    options = sandbox.org.attributes["cem_cememotion"]["OptionSet"]["Options"]
    removed = options.pop()
    report = adapter.provision()
    assert [s.action for s in report.steps if "cem_cememotion " in s.target + " "] == ["update"]
    assert options[-1]["Value"] == removed["Value"]


def test_install_registers_webhook_and_steps(sandbox: DynamicsSandbox) -> None:
    adapter = adapter_for(sandbox, webhook_url="https://hooks.example.com/webhooks/dynamics/1")
    adapter.connection.credentials["webhook_secret"] = "s3cret"  # type: ignore[index]
    adapter.provision()
    [endpoint] = sandbox.org.rows["serviceendpoints"].values()
    assert (endpoint["contract"], endpoint["authtype"], endpoint["authvalue"]) == (8, 4, "s3cret")
    steps = list(sandbox.org.rows["sdkmessageprocessingsteps"].values())
    assert len(steps) == 13 and all(s["mode"] == 1 and s["stage"] == 40 for s in steps)
    assert any(s["name"] == "CEM connector: Delete of contact" for s in steps)  # GDPR: deletions reach us
    contact_update = next(s for s in steps if s["name"] == "CEM connector: Update of contact")
    assert "cem_" not in contact_update["filteringattributes"]
    assert not adapter.provision().changed


def test_publisher_prefix_mismatch_is_a_clear_configuration_error(sandbox: DynamicsSandbox) -> None:
    adapter_for(sandbox).provision()
    from adapters.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="prefix"):
        adapter_for(sandbox, prefix="abc").provision()


# -- reading ------------------------------------------------------------------------------------
def test_fetch_contact_maps_activities_notes_cases_and_opportunities(sandbox: DynamicsSandbox,
                                                                     adapter: DynamicsAdapter) -> None:
    contact = adapter.fetch_contact(sandbox.native_contact_id("c1"))
    assert contact.contact.email == "ada@example.com" and contact.contact.name == "Ada Byron"
    by_subject = {i.subject: i for i in contact.interactions}
    assert (by_subject["Setup"].kind, by_subject["Setup"].direction) == ("email", "inbound")
    assert by_subject["Setup"].body == "I am confused by the setup."
    assert by_subject["Re: Setup"].direction == "outbound"
    assert (by_subject["Call"].kind, by_subject["Call"].direction) == ("call", "inbound")
    assert (by_subject["Note"].kind, by_subject["Note"].direction) == ("note", "internal")
    assert (by_subject["Login loop"].kind, by_subject["Login loop"].direction) == ("ticket", "inbound")
    assert by_subject["Kickoff"].kind == "meeting"
    assert by_subject["Setup"].occurred_at == datetime(2026, 9, 12, 10, tzinfo=UTC)
    deals = {d.name: d for d in contact.deals}
    assert (deals["Pro plan"].stage, deals["Pro plan"].type) == ("closedwon", "new_business")
    assert (deals["Pro plan renewal"].stage, deals["Pro plan renewal"].type) == ("contractsent", "renewal")


def test_missing_contact_is_not_found(adapter: DynamicsAdapter) -> None:
    with pytest.raises(NotFound):
        adapter.fetch_contact("00000000-0000-0000-0000-00000000dead")


def test_list_contacts_follows_next_links(sandbox: DynamicsSandbox, adapter: DynamicsAdapter) -> None:
    for n in range(5):
        sandbox.seed([{"record": "contact", "contact_id": f"p{n}"}])
    seen, cursor, pages = [], None, 0
    while pages < 10:
        page = adapter.list_contacts(cursor, page_size=3)
        seen += page.contact_ids
        pages += 1
        assert page.total == 7
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 3 and sorted(seen) == sorted(sandbox.contact_ids())
    future = adapter.list_contacts(modified_since=datetime.now(UTC) + timedelta(days=1))
    assert future.contact_ids == [] and future.next_cursor is None


def test_contacts_for_resolves_activity_parties(sandbox: DynamicsSandbox, adapter: DynamicsAdapter) -> None:
    email_id = sandbox.add_interaction({"contact_id": "c2", "id": "x1", "kind": "email", "direction": "inbound",
                                        "occurred_at": "2026-09-20T10:00:00Z", "body": "hi"}, notify=False)
    assert adapter.contacts_for("email", email_id) == [sandbox.native_contact_id("c2")]
    ticket_id = sandbox.add_interaction({"contact_id": "c1", "id": "x2", "kind": "ticket", "direction": "inbound",
                                         "occurred_at": "2026-09-20T10:00:00Z", "body": "broken"}, notify=False)
    assert adapter.contacts_for("ticket", ticket_id) == [sandbox.native_contact_id("c1")]
    assert adapter.contacts_for("email", "00000000-0000-0000-0000-00000000dead") == []


# -- writing ------------------------------------------------------------------------------------
def values(stage: str = "onboarding") -> dict[str, Any]:
    return {"journey_stage": stage, "journey_stage_since": datetime(2026, 9, 1, tzinfo=UTC), "emotion_score": -42.26,
            "emotion": "confused", "emotion_trend": -5, "churn_risk": 61.4, "churn_reason": "onboarding_confusion",
            "churn_reason_detail": "Inbound email 2026-09-12: \"I am confused by the setup.\"",
            "updated_at": datetime(2026, 9, 20, 8, 30, tzinfo=UTC)}


def test_batch_round_trip_with_a_failing_change_set(sandbox: DynamicsSandbox) -> None:
    adapter = adapter_for(sandbox, changeset_size=3)
    adapter.provision()
    for n in range(5):
        sandbox.seed([{"record": "contact", "contact_id": f"w{n}"}])
    good = sandbox.contact_ids()
    missing = "00000000-0000-0000-0000-00000000dead"
    updates = [FieldUpdate(c, values()) for c in good[:2]] + [FieldUpdate(missing, values())] + \
              [FieldUpdate(c, values("adoption")) for c in good[2:]]
    result = adapter.write_fields(updates)
    assert sorted(result.succeeded) == sorted(good)
    assert list(result.failed) == [missing] and isinstance(result.failed[missing], NotFound)
    assert result.calls == 2  # one $batch of 3 change sets, one re-send of the 2 innocent records
    assert sum(1 for _, path in sandbox.calls if path.endswith("$batch")) == 2
    assert sandbox.org.get("contacts", missing) is None  # If-Match: * never creates a record
    record = sandbox.contact_record(good[0])
    assert record["cem_cemjourneystage"] == 100000003  # onboarding is the 4th stage
    assert record["cem_cememotionscore"] == -42.3 and record["cem_cemchurnrisk"] == 61
    assert adapter.read_fields(good[:1])[good[0]] == {
        **values(), "emotion_score": -42.3, "churn_risk": 61, "emotion_trend": -5.0}


def test_server_validation_error_fails_only_that_record(sandbox: DynamicsSandbox) -> None:
    adapter = adapter_for(sandbox)
    adapter.provision()
    ids = sandbox.contact_ids()
    sandbox.org.attributes["cem_cemchurnrisk"]["MaxValue"] = 50  # an admin narrowed the column
    result = adapter.write_fields([FieldUpdate(ids[0], {"churn_risk": 80}), FieldUpdate(ids[1], {"churn_risk": 20})])
    assert result.succeeded == [ids[1]] and "outside the valid range" in str(result.failed[ids[0]])


def test_unknown_option_is_rejected_before_sending(adapter: DynamicsAdapter, sandbox: DynamicsSandbox) -> None:
    adapter.provision()
    contact = sandbox.contact_ids()[0]
    result = adapter.write_fields([FieldUpdate(contact, {"journey_stage": "space"})])
    assert list(result.failed) == [contact] and result.calls == 0


# -- limits and auth ---------------------------------------------------------------------------------
def test_short_retry_after_is_honoured_in_place() -> None:
    crm = DynamicsSandbox(requests_per_window=3, window_seconds=1.0)
    crm.start()
    try:
        crm.seed(RECORDS)
        adapter = adapter_for(crm)
        started = time.monotonic()
        for _ in range(3):
            adapter.check_connection()
        adapter.check_connection()  # the 4th call in the window gets 429 + Retry-After: 1
        assert time.monotonic() - started >= 0.9
        assert any(True for _ in crm.calls)
    finally:
        crm.stop()


def test_long_retry_after_is_raised_for_the_job_layer() -> None:
    crm = DynamicsSandbox(requests_per_window=2, window_seconds=120)
    crm.start()
    try:
        adapter = adapter_for(crm, max_inline_wait=1)
        adapter.check_connection()
        adapter.check_connection()
        with pytest.raises(RateLimited) as caught:
            adapter.check_connection()
        assert caught.value.retry_after is not None and caught.value.retry_after > 100
        assert "0x80072322" in str(caught.value)
    finally:
        crm.stop()


def test_token_is_cached_and_refreshed_after_revocation(sandbox: DynamicsSandbox, adapter: DynamicsAdapter) -> None:
    adapter.check_connection()
    adapter.check_connection()
    assert sandbox.directory.token_requests == 1
    sandbox.directory.revoke_all()  # e.g. the secret was rotated
    assert adapter.check_connection()["organization_id"] == sandbox.org.organization_id
    assert sandbox.directory.token_requests == 2


def test_wrong_client_secret_is_authentication_error(sandbox: DynamicsSandbox) -> None:
    with pytest.raises(AuthenticationError, match="Certificates & secrets"):
        adapter_for(sandbox, client_secret="wrong").check_connection()
