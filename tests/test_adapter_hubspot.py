"""HubSpot adapter against the HubSpot sandbox over real HTTP on 127.0.0.1 (plus pure mapping checks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from adapters.base import ConnectionInfo, FieldUpdate
from adapters.errors import AuthenticationError, NotFound, PermissionDenied, RateLimited, TransientError
from adapters.fields import FIELDS_BY_KEY
from adapters.http import RetryPolicy
from adapters.hubspot import HubSpotAdapter, mapping
from adapters.hubspot import auth as hubspot_auth
from adapters.hubspot import errors as hubspot_errors

sandbox_module = pytest.importorskip("sandbox.hubspot", reason="sandbox/hubspot/ not available")

RECORDS: list[dict[str, Any]] = [
    {"record": "contact", "contact_id": "c1", "lifecycle_stage": "customer", "email": "ann@example.test",
     "first_name": "Ann", "last_name": "Lee"},
    {"record": "deal", "contact_id": "c1", "id": "d1", "name": "Pro plan", "stage": "closedwon", "type": "new_business",
     "amount": 1200, "created": "2026-08-01", "close_date": "2026-09-01"},
    {"record": "deal", "contact_id": "c1", "id": "d2", "name": "Seats add-on", "stage": "contractsent",
     "type": "upsell", "created": "2026-09-20"},
    {"record": "interaction", "contact_id": "c1", "id": "i1", "kind": "email", "direction": "inbound",
     "occurred_at": "2026-09-12T10:00:00Z", "subject": "Setup", "body": "I am lost in the setup."},
    {"record": "interaction", "contact_id": "c1", "id": "i2", "kind": "email", "direction": "outbound",
     "occurred_at": "2026-09-13T10:00:00Z", "subject": "Re: Setup", "body": "Here is a guide."},
    {"record": "interaction", "contact_id": "c1", "id": "i3", "kind": "note", "direction": "internal",
     "occurred_at": "2026-09-14T10:00:00Z", "body": "Customer seems unhappy"},
    {"record": "interaction", "contact_id": "c1", "id": "i4", "kind": "ticket", "direction": "inbound",
     "occurred_at": "2026-09-15T10:00:00Z", "subject": "Import fails", "body": "The CSV import crashes."},
    {"record": "interaction", "contact_id": "c1", "id": "i5", "kind": "chat", "direction": "inbound",
     "occurred_at": "2026-09-16T10:00:00Z", "body": "Any news?"},
    {"record": "interaction", "contact_id": "c1", "id": "i6", "kind": "survey", "direction": "inbound",
     "occurred_at": "2026-09-17T10:00:00Z", "body": "Too hard", "metadata": {"nps": 3}},
    {"record": "interaction", "contact_id": "c1", "id": "i7", "kind": "call", "direction": "outbound",
     "occurred_at": "2026-09-18T10:00:00Z", "body": "Walked through import"},
    {"record": "interaction", "contact_id": "c1", "id": "i8", "kind": "meeting", "direction": "outbound",
     "occurred_at": "2026-09-19T10:00:00Z", "body": "Onboarding session"},
    {"record": "contact", "contact_id": "c2", "lifecycle_stage": "lead", "email": "bo@example.test"},
    {"record": "contact", "contact_id": "c3", "lifecycle_stage": "opportunity", "email": "cy@example.test"},
]


@pytest.fixture
def sandbox() -> Iterator[Any]:
    box = sandbox_module.HubSpotSandbox(rate_window=1.0)
    box.start()
    box.seed(RECORDS)
    yield box
    box.stop()


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.credentials: list[dict[str, Any]] = []


def make_adapter(box: Any, rec: Recorder, credentials: dict[str, Any] | None = None, **kw: Any) -> HubSpotAdapter:
    settings, creds = box.connection_settings()
    connection = ConnectionInfo(1, "hubspot", settings, credentials or creds,
                                on_credentials_changed=rec.credentials.append)
    return HubSpotAdapter(connection, sleep=rec.sleeps.append, **kw)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def adapter(sandbox: Any, rec: Recorder) -> HubSpotAdapter:
    return make_adapter(sandbox, rec)


def writes(box: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p in box.calls if m in ("POST", "PATCH", "PUT", "DELETE") and "/properties/" in p]


# -- connection and provisioning ---------------------------------------------------------------------------
def test_check_connection_with_private_app_token(adapter: HubSpotAdapter, sandbox: Any) -> None:
    facts = adapter.check_connection()
    assert facts["auth"] == "private_app"
    assert facts["account_id"] == str(sandbox.portal_id)


def test_provision_dry_run_then_real_then_rerun(adapter: HubSpotAdapter, sandbox: Any) -> None:
    plan = adapter.provision(dry_run=True)
    assert plan.dry_run and plan.changed
    assert {s.action for s in plan.steps} == {"create"} and len(plan.steps) == 1 + len(adapter.fields)
    assert writes(sandbox) == []  # a dry run changes nothing

    first = adapter.provision()
    assert [s.action for s in first.steps].count("create") == 10
    prop = requests.get(f"{sandbox.url}/crm/v3/properties/contacts/cem_journey_stage", timeout=5,
                        headers={"Authorization": f"Bearer {sandbox.private_token}"}).json()
    assert (prop["type"], prop["fieldType"], prop["groupName"]) == ("enumeration", "select", "cem")
    assert [o["value"] for o in prop["options"]] == list(FIELDS_BY_KEY["journey_stage"].options)
    since = requests.get(f"{sandbox.url}/crm/v3/properties/contacts/cem_journey_stage_since", timeout=5,
                         headers={"Authorization": f"Bearer {sandbox.private_token}"}).json()
    assert (since["type"], since["fieldType"]) == ("datetime", "date")

    before = len(writes(sandbox))
    again = adapter.provision()
    assert not again.changed and {s.action for s in again.steps} == {"unchanged"}
    assert len(writes(sandbox)) == before  # "a re-run changes nothing and says so"


def test_provision_repairs_missing_picklist_options(adapter: HubSpotAdapter, sandbox: Any) -> None:
    adapter.provision()
    headers = {"Authorization": f"Bearer {sandbox.private_token}"}
    url = f"{sandbox.url}/crm/v3/properties/contacts/cem_emotion"
    trimmed = [{"label": "Angry", "value": "angry", "displayOrder": 0, "hidden": False}]
    assert requests.patch(url, json={"options": trimmed}, headers=headers, timeout=5).status_code == 200
    report = adapter.provision()
    updated = [s for s in report.steps if s.action == "update"]
    assert [s.target for s in updated] == ["property cem_emotion on contacts"]
    values = {o["value"] for o in requests.get(url, headers=headers, timeout=5).json()["options"]}
    assert values == set(FIELDS_BY_KEY["emotion"].options)
    assert not adapter.provision().changed


# -- reading -------------------------------------------------------------------------------------------------
def test_fetch_contact_maps_every_engagement(adapter: HubSpotAdapter, sandbox: Any) -> None:
    contact_id = sandbox.native_contact_id("c1")
    data = adapter.fetch_contact(contact_id)
    assert data.contact.lifecycle_stage == "customer" and data.contact.email == "ann@example.test"
    assert data.contact.name == "Ann Lee"
    got = [(i.kind, i.direction, i.effective_author) for i in data.interactions]
    assert got == [("email", "inbound", "customer"), ("email", "outbound", "rep"), ("note", "internal", "rep"),
                   ("ticket", "inbound", "customer"), ("chat", "inbound", "customer"),
                   ("survey", "inbound", "customer"), ("call", "outbound", "rep"), ("meeting", "outbound", "rep")]
    by_kind = {i.kind: i for i in data.interactions}
    assert by_kind["ticket"].subject == "Import fails" and "CSV import" in by_kind["ticket"].body
    assert by_kind["survey"].metadata.get("nps") == 3
    assert [i.occurred_at for i in data.interactions] == sorted(i.occurred_at for i in data.interactions)
    deals = {d.name: d for d in data.deals}
    assert deals["Pro plan"].stage == "closedwon" and deals["Pro plan"].type == "new_business"
    assert deals["Seats add-on"].type == "upsell" and deals["Pro plan"].amount == 1200


def test_fetch_missing_contact_is_not_found(adapter: HubSpotAdapter) -> None:
    with pytest.raises(NotFound):
        adapter.fetch_contact("987654321")


def test_contacts_for_an_engagement(adapter: HubSpotAdapter, sandbox: Any) -> None:
    assert adapter.contacts_for("email", sandbox.native_id("i1")) == [sandbox.native_contact_id("c1")]
    assert adapter.contacts_for("ticket", sandbox.native_id("i4")) == [sandbox.native_contact_id("c1")]
    assert adapter.contacts_for("contact", "42") == ["42"]


def test_list_contacts_pages_with_after(adapter: HubSpotAdapter, sandbox: Any) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = adapter.list_contacts(cursor, page_size=2)
        seen += page.contact_ids
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == sandbox.contact_ids()


def test_list_contacts_modified_since_uses_search(adapter: HubSpotAdapter, sandbox: Any) -> None:
    everyone = adapter.list_contacts(modified_since=datetime(2000, 1, 1, tzinfo=UTC))
    assert sorted(everyone.contact_ids) == sorted(sandbox.contact_ids()) and everyone.total == 3
    assert ("POST", "/crm/v3/objects/contacts/search") in sandbox.calls
    later = adapter.list_contacts(modified_since=datetime.now(UTC) + timedelta(days=1))
    assert later.contact_ids == [] and later.next_cursor is None


# -- writing -------------------------------------------------------------------------------------------------
def test_write_and_read_back_round_trip(adapter: HubSpotAdapter, sandbox: Any) -> None:
    adapter.provision()
    contact_id = sandbox.native_contact_id("c1")
    stamp = datetime(2026, 9, 20, 8, 30, tzinfo=UTC)
    values = {"journey_stage": "onboarding", "journey_stage_since": stamp, "emotion_score": -12.5,
              "emotion": "confused", "emotion_trend": 4, "churn_risk": 61.4, "churn_reason": "onboarding_confusion",
              "churn_reason_detail": "\"I am lost in the setup\" (email, 2026-09-12)", "updated_at": stamp}
    result = adapter.write_fields([FieldUpdate(contact_id, values)])
    assert result.succeeded == [contact_id] and not result.failed and result.calls == 1
    stored = sandbox.contact_record(contact_id)
    assert stored["properties"]["cem_emotion_score"] == "-12.5"  # numbers travel as strings
    assert stored["properties"]["cem_journey_stage_since"] in ("2026-09-20T08:30:00.000Z", "1789893000000")
    back = adapter.read_fields([contact_id])[contact_id]
    assert back["journey_stage"] == "onboarding" and back["emotion_score"] == -12.5
    assert back["churn_risk"] == 61 and back["journey_stage_since"] == stamp and back["updated_at"] == stamp
    assert back["churn_reason_detail"] == values["churn_reason_detail"]


def test_writes_are_chunked_by_100_and_partial_failures_reported(adapter: HubSpotAdapter, sandbox: Any) -> None:
    adapter.provision()
    rows = [{"record": "contact", "contact_id": f"bulk{i}", "email": f"b{i}@example.test"} for i in range(150)]
    sandbox.seed(rows)
    ids = [sandbox.native_contact_id(f"bulk{i}") for i in range(150)]
    updates = [FieldUpdate(cid, {"churn_risk": 10 + n % 50, "emotion": "neutral"}) for n, cid in enumerate(ids)]
    updates.append(FieldUpdate("99999999", {"emotion": "angry"}))
    before = sum(1 for c in sandbox.calls if c[1].endswith("/contacts/batch/update"))
    result = adapter.write_fields(updates)
    calls = sum(1 for c in sandbox.calls if c[1].endswith("/contacts/batch/update")) - before
    assert calls == 2 and result.calls == 2
    assert sorted(result.succeeded) == sorted(ids)
    assert set(result.failed) == {"99999999"} and isinstance(result.failed["99999999"], NotFound)
    assert adapter.read_fields(ids[-1:])[ids[-1]]["churn_risk"] == 10 + 149 % 50


def test_invalid_value_isolated_by_splitting(adapter: HubSpotAdapter, sandbox: Any) -> None:
    adapter.provision()
    good, other = sandbox.native_contact_id("c2"), sandbox.native_contact_id("c3")
    result = adapter.write_fields([FieldUpdate(good, {"emotion": "neutral"}),
                                   FieldUpdate(other, {"emotion": "not-an-option"})])
    assert result.succeeded == [good]
    assert set(result.failed) == {other} and not result.failed[other].retryable


# -- faults, limits, auth ------------------------------------------------------------------------------------
def test_429_with_short_retry_after_is_retried_in_place(adapter: HubSpotAdapter, sandbox: Any, rec: Recorder) -> None:
    sandbox.fail_next(1, 429, retry_after=1)
    assert adapter.list_contacts(page_size=5).contact_ids
    assert rec.sleeps == [1.0]


def test_long_retry_after_is_raised(adapter: HubSpotAdapter, sandbox: Any, rec: Recorder) -> None:
    sandbox.fail_next(1, 429, retry_after=120)
    with pytest.raises(RateLimited) as info:
        adapter.list_contacts()
    assert info.value.retry_after == 120 and rec.sleeps == []


def test_5xx_retried_then_raised_as_transient(sandbox: Any, rec: Recorder) -> None:
    adapter = make_adapter(sandbox, rec, retry_policy=RetryPolicy(max_attempts=3))
    sandbox.fail_next(2, 502)
    assert adapter.list_contacts().contact_ids and len(rec.sleeps) == 2
    sandbox.fail_next(3, 504)
    with pytest.raises(TransientError):
        adapter.list_contacts()


def test_real_burst_limit_is_honoured(sandbox: Any) -> None:
    box = sandbox_module.HubSpotSandbox(rate_limit=3, rate_window=1.0)
    box.start()
    try:
        box.seed(RECORDS[:1])
        settings, creds = box.connection_settings()
        adapter = HubSpotAdapter(ConnectionInfo(2, "hubspot", settings, creds))
        for _ in range(7):  # more calls than the window allows: paced or retried, never failed
            adapter.list_contacts()
        usage = adapter.api_usage()
        assert usage["limit"] == 3 and usage["interval_ms"] == 1000 and usage["calls"] >= 7
    finally:
        box.stop()


def test_bad_token_is_authentication_error_with_advice(sandbox: Any, rec: Recorder) -> None:
    _, creds = sandbox.connection_settings()
    adapter = make_adapter(sandbox, rec, {**creds, "access_token": "pat-na1-wrong"})
    with pytest.raises(AuthenticationError) as info:
        adapter.list_contacts()
    assert "Reconnect HubSpot" in str(info.value) and info.value.status == 401


def oauth_credentials(box: Any) -> dict[str, Any]:
    _, creds = box.connection_settings()
    url = hubspot_auth.authorize_url(client_id=creds["client_id"], redirect_uri="https://cem.example.test/cb",
                                     scopes=["crm.objects.contacts.read", "crm.objects.contacts.write"],
                                     state="csrf-123", authorize_base=f"{box.url}/oauth/authorize")
    answer = requests.get(url, allow_redirects=False, timeout=5)
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["state"] == ["csrf-123"]
    return hubspot_auth.exchange_code(query["code"][0], client_id=creds["client_id"],
                                      client_secret=creds["client_secret"],
                                      redirect_uri="https://cem.example.test/cb", api_base_url=box.url)


def test_oauth_code_flow_and_refresh_on_expired_token(sandbox: Any, rec: Recorder) -> None:
    credentials = oauth_credentials(sandbox)
    assert credentials["refresh_token"] and credentials["expires_at"] > datetime.now(UTC).timestamp()
    adapter = make_adapter(sandbox, rec, credentials)
    facts = adapter.check_connection()
    assert facts["auth"] == "oauth" and facts["hub_id"] == sandbox.portal_id and facts["app_id"] == sandbox.app_id
    assert facts["scopes"]
    sandbox.tokens.expire_oauth_tokens()  # HubSpot answers 401 EXPIRED_AUTHENTICATION from now on
    assert adapter.list_contacts().contact_ids
    assert len(rec.credentials) == 1 and rec.credentials[0]["access_token"] != credentials["access_token"]
    assert rec.credentials[0]["refresh_token"] == credentials["refresh_token"]


def test_expired_by_clock_refreshes_before_the_call(sandbox: Any, rec: Recorder) -> None:
    credentials = {**oauth_credentials(sandbox), "expires_at": 0}
    adapter = make_adapter(sandbox, rec, credentials)
    before = sum(1 for c in sandbox.calls if c[1].startswith("/crm/"))
    adapter.list_contacts()
    assert len(rec.credentials) == 1
    assert sum(1 for c in sandbox.calls if c[1].startswith("/crm/")) == before + 1  # no 401 round trip


def test_bad_refresh_token_asks_to_reconnect(sandbox: Any, rec: Recorder) -> None:
    credentials = {**oauth_credentials(sandbox), "refresh_token": "nope", "expires_at": 0}
    with pytest.raises(AuthenticationError, match="Reconnect HubSpot"):
        make_adapter(sandbox, rec, credentials).list_contacts()


def test_authorize_url_requires_state() -> None:
    url = hubspot_auth.authorize_url(client_id="abc", redirect_uri="https://x.test/cb", scopes=["a", "b"], state="s")
    assert url.startswith(hubspot_auth.AUTHORIZE_URL) and "scope=a%20b" in url and "state=s" in url
    with pytest.raises(Exception, match="state"):
        hubspot_auth.authorize_url(client_id="abc", redirect_uri="https://x.test/cb", scopes=["a"], state="")


# -- pure mapping ---------------------------------------------------------------------------------------------
class FakeApiException(Exception):
    def __init__(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers, self.reason = status, body, headers or {}, "x"


FakeApiException.__module__ = "hubspot.crm.contacts.exceptions"


def test_missing_scopes_message_names_the_scopes() -> None:
    body = ('{"status":"error","message":"This app hasn\'t been granted all required scopes to make this call.",'
            '"category":"MISSING_SCOPES","errors":[{"message":"One or more of the following scopes are required.",'
            '"context":{"requiredGranularScopes":["crm.objects.contacts.write"]}}]}')
    error = hubspot_errors.from_api_exception(FakeApiException(403, body), "updating contacts")
    assert isinstance(error, PermissionDenied) and "crm.objects.contacts.write" in str(error)


def test_daily_limit_429_without_retry_after_waits_long() -> None:
    body = '{"status":"error","message":"You have reached your daily limit.","policyName":"DAILY"}'
    error = hubspot_errors.from_api_exception(FakeApiException(429, body), "reading")
    assert isinstance(error, RateLimited) and error.retry_after == 3600.0


def test_value_formats() -> None:
    spec = FIELDS_BY_KEY
    assert mapping.format_value(spec["emotion_score"], -12.54) == "-12.5"
    assert mapping.format_value(spec["churn_risk"], 61.6) == "62"
    assert mapping.format_value(spec["journey_stage_since"], datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == \
        "2026-01-02T03:04:05.000Z"
    assert mapping.format_value(spec["emotion"], None) == ""
    assert mapping.parse_value(spec["updated_at"], "1767323045000") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert mapping.deal_type("existingbusiness", "Annual renewal 2027") == "renewal"
    assert mapping.deal_type("existingbusiness", "More seats") == "upsell"
    assert mapping.deal_type("newbusiness", "Renewal?") == "new_business"


def test_html_email_body_used_when_no_text() -> None:
    record = {"id": "9", "properties": {"hs_timestamp": "2026-01-01T00:00:00Z", "hs_email_direction": "INCOMING_EMAIL",
                                        "hs_email_html": "<p>Help!</p>"}}
    interaction = mapping.email_interaction(record, "1")
    assert interaction is not None and interaction.body == "<p>Help!</p>" and interaction.metadata["html"]


def test_custom_pipeline_stages_map_by_probability() -> None:
    assert mapping.stage_from_pipeline({"metadata": {"isClosed": "true", "probability": "1.0"}}) == "closedwon"
    assert mapping.stage_from_pipeline({"metadata": {"isClosed": "true", "probability": "0.0"}}) == "closedlost"
    assert mapping.stage_from_pipeline({"metadata": {"isClosed": "false", "probability": "0.3"}}) == "qualifiedtobuy"
