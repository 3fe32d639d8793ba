"""Salesforce adapter against the Salesforce sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.base import ConnectionInfo, FieldUpdate
from adapters.errors import (
    AuthenticationError,
    BudgetExhausted,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    RateLimited,
    TransientError,
)
from adapters.salesforce import SalesforceAdapter
from sandbox.salesforce import SalesforceSandbox

logging.getLogger("werkzeug").setLevel(logging.ERROR)

RECORDS = [
    {"record": "contact", "contact_id": "c1", "name": "Ann Lee", "email": "ann@customer.example"},
    {"record": "deal", "contact_id": "c1", "id": "d1", "name": "Pro", "stage": "closedwon", "type": "new_business",
     "amount": 1200, "created": "2026-08-01", "close_date": "2026-09-01"},
    {"record": "deal", "contact_id": "c1", "id": "d2", "name": "Seats", "stage": "contractsent", "type": "upsell",
     "amount": 300, "created": "2026-09-10", "close_date": "2026-10-01"},
    {"record": "interaction", "contact_id": "c1", "id": "i1", "kind": "email", "direction": "inbound",
     "occurred_at": "2026-09-12T10:00:00Z", "subject": "Setup", "body": "I am confused by the setup"},
    {"record": "interaction", "contact_id": "c1", "id": "i2", "kind": "email", "direction": "outbound",
     "occurred_at": "2026-09-12T12:00:00Z", "subject": "Re: Setup", "body": "Here is a guide"},
    {"record": "interaction", "contact_id": "c1", "id": "i3", "kind": "call", "direction": "inbound",
     "occurred_at": "2026-09-13T10:00:00Z", "body": "Customer called about setup"},
    {"record": "interaction", "contact_id": "c1", "id": "i4", "kind": "ticket", "direction": "inbound",
     "occurred_at": "2026-09-14T10:00:00Z", "subject": "Crash", "body": "The app crashes"},
    {"record": "interaction", "contact_id": "c1", "id": "i5", "kind": "ticket", "direction": "outbound",
     "author": "rep", "occurred_at": "2026-09-15T10:00:00Z", "body": "Fixed in 2.1"},
    {"record": "interaction", "contact_id": "c1", "id": "i6", "kind": "survey", "direction": "inbound",
     "occurred_at": "2026-09-16T10:00:00Z", "body": "Slow support", "metadata": {"nps": 4}},
    {"record": "contact", "contact_id": "c2", "name": "Bo Chen"},
]
NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
VALUES = {"journey_stage": "onboarding", "journey_stage_since": NOW, "emotion_score": -42.25, "emotion": "confused",
          "emotion_trend": -10, "churn_risk": 55.4, "churn_reason": "onboarding_confusion",
          "churn_reason_detail": "“I am confused by the setup” (email, 2026-09-12)", "updated_at": NOW}


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    box = SalesforceSandbox()
    box.seed(RECORDS)
    box.start()
    yield box
    box.stop()


def adapter_for(box: SalesforceSandbox, **overrides: object) -> SalesforceAdapter:
    settings, credentials = box.connection_settings()
    settings.update(overrides)
    return SalesforceAdapter(ConnectionInfo(1, "salesforce", settings, credentials), sleep=lambda _: None)


@pytest.fixture
def installed(sandbox: SalesforceSandbox) -> SalesforceAdapter:
    adapter = adapter_for(sandbox)
    adapter.provision()
    return adapter_for(sandbox)


# -- auth ------------------------------------------------------------------------------------------
def test_password_login_learns_org_and_integration_user(sandbox: SalesforceSandbox) -> None:
    facts = adapter_for(sandbox).check_connection()
    assert facts["account_id"] == sandbox.store.org_id
    assert facts["integration_user_id"] == sandbox.store.integration_user_id
    assert facts["username"] == sandbox.integration_username
    assert facts["api_usage"]["limit"] == 15000


def test_jwt_bearer_login_with_connected_app_key(sandbox: SalesforceSandbox) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    sandbox.register_connected_app("3MVG9-cem", public)
    settings, credentials = sandbox.connection_settings()
    assert settings["auth"] == "jwt"
    adapter = SalesforceAdapter(ConnectionInfo(1, "salesforce", settings, {**credentials, "private_key": private}))
    assert adapter.check_connection()["integration_user_id"] == sandbox.store.integration_user_id
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    wrong = SalesforceAdapter(ConnectionInfo(1, "salesforce", settings, {**credentials, "private_key": other}))
    with pytest.raises(AuthenticationError, match="JWT bearer"):
        wrong.check_connection()


def test_existing_session_uses_userinfo(sandbox: SalesforceSandbox) -> None:
    settings = {"auth": "session", "instance_url": sandbox.url, "org_id": sandbox.store.org_id}
    adapter = SalesforceAdapter(ConnectionInfo(1, "salesforce", settings,
                                               {"access_token": sandbox.session_for_integration_user()}))
    assert adapter.check_connection()["integration_user_id"] == sandbox.store.integration_user_id
    assert ("GET", "/services/oauth2/userinfo") in sandbox.calls


def test_wrong_password_and_wrong_org_are_explained(sandbox: SalesforceSandbox) -> None:
    settings, credentials = sandbox.connection_settings()
    bad = SalesforceAdapter(ConnectionInfo(1, "salesforce", settings, {**credentials, "security_token": "nope"}))
    with pytest.raises(AuthenticationError, match="security token"):
        bad.check_connection()
    with pytest.raises(ConfigurationError, match="set up for org"):
        adapter_for(sandbox, org_id="00D000000000042").check_connection()


def test_plain_http_is_refused_for_non_loopback_hosts() -> None:
    adapter = SalesforceAdapter(ConnectionInfo(1, "salesforce", {"auth": "session", "instance_url":
                                                                 "http://na1.salesforce.com"}, {"access_token": "x"}))
    with pytest.raises(ConfigurationError, match="https"):
        adapter.check_connection()


# -- install ---------------------------------------------------------------------------------------
def test_install_is_idempotent_and_dry_run_changes_nothing(sandbox: SalesforceSandbox) -> None:
    plan = adapter_for(sandbox).provision(dry_run=True)
    assert plan.dry_run and plan.changed
    assert not sandbox.store.custom_fields
    first = adapter_for(sandbox).provision()
    created = [s.target for s in first.steps if s.action == "create"]
    assert "field Contact.CEM_Journey_Stage__c" in created and "permission set CEM_Connector" in created
    assert [s.action for s in first.steps if s.target.startswith("permission set CEM_Connector to")] == ["assign"]
    assert [(s.action, s.target) for s in plan.steps] == [(s.action, s.target) for s in first.steps]
    definitions = {d.api_name: d.metadata for d in sandbox.store.custom_fields.values()}
    assert definitions["CEM_Emotion_Score__c"]["precision"] == 4 and definitions["CEM_Emotion_Score__c"]["scale"] == 1
    assert definitions["CEM_Churn_Reason_Detail__c"]["type"] == "LongTextArea"
    assert [v["fullName"] for v in definitions["CEM_Journey_Stage__c"]["valueSet"]["valueSetDefinition"]["value"]][
        :2] == ["awareness", "consideration"]
    second = adapter_for(sandbox).provision()
    assert not second.changed and {s.action for s in second.steps} == {"unchanged"}
    assert len(sandbox.store.custom_fields) == 9


def test_install_updates_a_drifted_field_and_covers_leads(sandbox: SalesforceSandbox) -> None:
    adapter_for(sandbox).provision()
    drifted = next(d for d in sandbox.store.custom_fields.values() if d.api_name == "CEM_Emotion__c")
    drifted.metadata["valueSet"]["valueSetDefinition"]["value"].pop()
    report = adapter_for(sandbox, objects=["Contact", "Lead"]).provision()
    actions = {s.target: s.action for s in report.steps}
    assert actions["field Contact.CEM_Emotion__c"] == "update"
    assert actions["field Lead.CEM_Emotion__c"] == "create"
    assert actions["field permission Lead.CEM_Emotion__c"] == "create"
    assert len(drifted.metadata["valueSet"]["valueSetDefinition"]["value"]) == 8


def test_install_assigns_named_users_and_refuses_unknown_ones(sandbox: SalesforceSandbox) -> None:
    with pytest.raises(ConfigurationError, match="nobody@x"):
        adapter_for(sandbox, permission_set_assignees=["nobody@x"]).provision()
    assert not sandbox.store.custom_fields  # validated before any change
    report = adapter_for(sandbox, permission_set_assignees=["admin@cem-sandbox.example"]).provision()
    assert "permission set CEM_Connector to admin@cem-sandbox.example" in [s.target for s in report.steps]


def test_writes_before_install_fail_with_install_hint(sandbox: SalesforceSandbox) -> None:
    adapter = adapter_for(sandbox)
    result = adapter.write_fields([FieldUpdate(sandbox.native_contact_id("c1"), {"emotion": "angry"})])
    assert isinstance(result.failed[sandbox.native_contact_id("c1")], ConfigurationError)
    assert "install salesforce" in str(result.failed[sandbox.native_contact_id("c1")])


# -- reading ---------------------------------------------------------------------------------------
def test_fetch_contact_maps_every_source_with_the_right_author(installed: SalesforceAdapter,
                                                               sandbox: SalesforceSandbox) -> None:
    data = installed.fetch_contact(sandbox.native_contact_id("c1"))
    assert data.contact.name == "Ann Lee" and data.contact.email == "ann@customer.example"
    summary = [(i.kind, i.direction, i.author, i.body) for i in data.interactions]
    assert summary == [
        ("email", "inbound", "customer", "I am confused by the setup"),
        ("email", "outbound", "rep", "Here is a guide"),
        ("call", "inbound", "rep", "Customer called about setup"),
        ("ticket", "inbound", "customer", "The app crashes"),
        ("ticket", "outbound", "rep", "Fixed in 2.1"),
        ("survey", "inbound", "customer", "Slow support"),
    ]
    assert data.interactions[-1].metadata["nps"] == 4
    assert data.interactions[0].occurred_at == datetime(2026, 9, 12, 10, tzinfo=UTC)
    deals = {d.name: d for d in data.deals}
    assert (deals["Pro"].stage, deals["Pro"].type) == ("closedwon", "new_business")
    assert (deals["Seats"].stage, deals["Seats"].type, deals["Seats"].amount) == ("contractsent", "upsell", 300.0)


def test_missing_contact_is_not_found(installed: SalesforceAdapter) -> None:
    with pytest.raises(NotFound):
        installed.fetch_contact("0038d0000009999AAA")
    with pytest.raises(NotFound):
        installed.fetch_contact("00Q8d0000009999AAA")  # Leads are not configured


def test_query_paging_follows_next_records_url(sandbox: SalesforceSandbox) -> None:
    sandbox.api.query_batch_size = 2
    for n in range(5):
        sandbox.add_interaction({"contact_id": "c2", "kind": "note", "direction": "internal", "body": f"note {n}",
                                 "occurred_at": f"2026-09-0{n + 1}T09:00:00Z"}, notify=False)
    data = adapter_for(sandbox).fetch_contact(sandbox.native_contact_id("c2"))
    assert [i.body for i in data.interactions] == [f"note {n}" for n in range(5)]
    assert sum(1 for m, p in sandbox.calls if m == "GET" and "/query/01g" in p) >= 2


def test_list_contacts_pages_by_id_and_contacts_for_resolves_interactions(installed: SalesforceAdapter,
                                                                          sandbox: SalesforceSandbox) -> None:
    first = installed.list_contacts(page_size=1)
    second = installed.list_contacts(first.next_cursor, page_size=1)
    third = installed.list_contacts(second.next_cursor, page_size=1)
    assert first.contact_ids + second.contact_ids == sandbox.contact_ids() and third.contact_ids == []
    assert third.next_cursor is None
    c1 = sandbox.native_contact_id("c1")
    data = installed.fetch_contact(c1)
    for interaction in data.interactions:
        assert installed.contacts_for(interaction.kind, interaction.id) == [c1], interaction
    assert installed.contacts_for("deal", data.deals[0].id) == [c1]


# -- writing ---------------------------------------------------------------------------------------
def test_write_and_read_back(installed: SalesforceAdapter, sandbox: SalesforceSandbox) -> None:
    c1 = sandbox.native_contact_id("c1")
    result = installed.write_fields([FieldUpdate(c1, VALUES)])
    assert result.succeeded == [c1] and not result.failed and result.calls == 1
    record = sandbox.contact_record(c1)
    assert record["CEM_Journey_Stage__c"] == "onboarding" and record["CEM_Emotion_Score__c"] == -42.2
    assert record["CEM_Churn_Risk__c"] == 55 and record["CEM_Updated_At__c"] == "2026-09-20T12:00:00.000Z"
    assert record["LastModifiedById"] == sandbox.store.integration_user_id
    back = installed.read_fields([c1])[c1]
    assert back["journey_stage_since"] == NOW and back["churn_risk"] == 55 and back["emotion_trend"] == -10.0


def test_composite_partial_failure_is_per_record(installed: SalesforceAdapter, sandbox: SalesforceSandbox) -> None:
    c1, c2 = sandbox.native_contact_id("c1"), sandbox.native_contact_id("c2")
    sandbox.api.fail_next_writes[c2[:15]] = ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access")
    result = installed.write_fields([
        FieldUpdate(c1, {"emotion": "angry"}),
        FieldUpdate(c2, {"emotion": "delighted"}),  # locked once, retried in place
        FieldUpdate("0038d0000009999AAA", {"emotion": "angry"}),  # deleted
        FieldUpdate("003bad", {"emotion": "angry"}),  # malformed id
        FieldUpdate(c1, {"churn_reason": "not_a_reason"}),  # refused by the restricted picklist
    ])
    assert result.succeeded == [c1, c2]
    assert isinstance(result.failed["0038d0000009999AAA"], NotFound)
    assert isinstance(result.failed["003bad"], NotFound)
    assert result.calls == 2
    assert sandbox.contact_record(c2)["CEM_Emotion__c"] == "delighted"
    result = installed.write_fields([FieldUpdate(c1, {"churn_reason": "not_a_reason"})])
    assert isinstance(result.failed[c1], InvalidRequest) and "restricted picklist" in str(result.failed[c1])


def test_locked_record_that_stays_locked_is_left_retryable(installed: SalesforceAdapter,
                                                           sandbox: SalesforceSandbox) -> None:
    c1 = sandbox.native_contact_id("c1")
    calls = 0
    original = sandbox.api._plan_collection_item

    def always_locked(record, user_id, create):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        sandbox.api.fail_next_writes[c1[:15]] = ("UNABLE_TO_LOCK_ROW", "locked")
        return original(record, user_id, create)
    sandbox.api._plan_collection_item = always_locked  # type: ignore[method-assign]
    result = installed.write_fields([FieldUpdate(c1, {"emotion": "angry"})])
    assert isinstance(result.failed[c1], TransientError) and result.failed[c1].retryable
    assert calls == 3  # first try + two bounded in-place retries


def test_writes_are_chunked_at_200(installed: SalesforceAdapter, sandbox: SalesforceSandbox) -> None:
    ids = [sandbox.store.insert("Contact", {"LastName": f"Bulk {n}"}, user_id=None) for n in range(401)]
    result = installed.write_fields([FieldUpdate(i, {"churn_risk": 10}) for i in ids])
    assert len(result.succeeded) == 401 and result.calls == 3
    assert all(sandbox.contact_record(i)["CEM_Churn_Risk__c"] == 10 for i in ids)


# -- limits ----------------------------------------------------------------------------------------
def test_usage_header_is_tracked_and_budget_stops_before_the_limit(sandbox: SalesforceSandbox) -> None:
    sandbox.api.daily_limit = 100
    sandbox.api.used = 40
    adapter = adapter_for(sandbox, daily_api_budget="50%")
    adapter.check_connection()
    usage = adapter.api_usage()
    assert usage["limit"] == 100 and usage["used"] >= 41 and usage["budget"] == 50
    sandbox.api.used = 49
    adapter.client.query("SELECT Id FROM Contact")  # learns 50/100
    with pytest.raises(BudgetExhausted) as caught:
        adapter.client.query("SELECT Id FROM Contact")
    assert caught.value.retryable and caught.value.retry_after


def test_org_daily_limit_is_rate_limited(sandbox: SalesforceSandbox) -> None:
    sandbox.api.daily_limit = 5
    sandbox.api.used = 5
    with pytest.raises(RateLimited) as caught:
        adapter_for(sandbox, daily_api_budget=10**6).fetch_contact(sandbox.native_contact_id("c1"))
    assert caught.value.retry_after == 3600.0


# -- HTTP error mapping (unit, no sandbox) ---------------------------------------------------------
@responses.activate
def test_expired_session_relogs_in_once_and_5xx_is_transient() -> None:
    base = "https://acme.my.salesforce.com"
    login = ("<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>"
             f"<loginResponse><result><serverUrl>{base}/services/Soap/u/59.0/00D</serverUrl><sessionId>S{{n}}</sessionId>"
             "<userId>005000000000001</userId><userInfo><organizationId>00D000000000001</organizationId></userInfo>"
             "</result></loginResponse></soapenv:Body></soapenv:Envelope>")
    responses.post("https://login.salesforce.com/services/Soap/u/59.0", body=login.format(n=1))
    responses.post("https://login.salesforce.com/services/Soap/u/59.0", body=login.format(n=2))
    query = f"{base}/services/data/v59.0/query/"
    responses.get(query, status=401, json=[{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}])
    responses.get(query, json={"done": True, "totalSize": 0, "records": []},
                  headers={"Sforce-Limit-Info": "api-usage=7/15000"})
    responses.get(query, status=503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}])
    adapter = SalesforceAdapter(ConnectionInfo(1, "salesforce", {"auth": "password", "username": "u@x"},
                                               {"password": "p", "security_token": "t"}))
    assert adapter.client.query("SELECT Id FROM Contact") == []
    assert adapter.client.session is not None and adapter.client.session.access_token == "S2"
    with pytest.raises(TransientError):
        adapter.client.query("SELECT Id FROM Contact")
