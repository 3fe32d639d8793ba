"""The HubSpot sandbox over real HTTP: auth, paging, limits, partial failures, rate limits,
associations, search, and signed webhooks with HubSpot's retry behaviour."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from flask import Flask, request
from hubspot.utils.signature import Signature

from sandbox.hubspot import HubSpotSandbox
from sandbox.server import ServerThread

RECORDS: list[dict[str, Any]] = [
    {"record": "contact", "contact_id": "c1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
     "company": "Analytical", "created": "2026-01-05T09:00:00Z", "lifecycle_stage": "customer"},
    {"record": "contact", "contact_id": "c2", "first_name": "Bob", "last_name": "Byte", "email": "bob@example.com",
     "company": "Bits", "created": "2026-02-01T09:00:00Z", "lifecycle_stage": "lead"},
    {"record": "deal", "contact_id": "c1", "id": "d1", "name": "Pro plan", "stage": "closedwon", "type": "upsell",
     "amount": 1200, "created": "2026-08-01", "close_date": "2026-09-01"},
    {"record": "interaction", "contact_id": "c1", "id": "i1", "kind": "email", "direction": "inbound",
     "occurred_at": "2026-09-12T10:00:00Z", "subject": "Setup", "body": "The setup is confusing."},
    {"record": "interaction", "contact_id": "c1", "id": "i2", "kind": "call", "direction": "outbound",
     "occurred_at": "2026-09-13T10:00:00Z", "subject": "Check-in", "body": "Walked through onboarding."},
    {"record": "interaction", "contact_id": "c1", "id": "i3", "kind": "note", "direction": "internal",
     "occurred_at": "2026-09-14T10:00:00Z", "body": "Needs a follow-up."},
    {"record": "interaction", "contact_id": "c1", "id": "i4", "kind": "chat", "direction": "inbound",
     "occurred_at": "2026-09-15T10:00:00Z", "body": "Where is the export button?"},
    {"record": "interaction", "contact_id": "c1", "id": "i5", "kind": "survey", "direction": "inbound",
     "occurred_at": "2026-09-16T10:00:00Z", "body": "Too hard to start", "metadata": {"nps": 4}},
    {"record": "interaction", "contact_id": "c1", "id": "i6", "kind": "ticket", "direction": "inbound",
     "occurred_at": "2026-09-17T10:00:00Z", "subject": "Import fails", "body": "CSV import errors out."},
]


def contact_rows(count: int) -> list[dict[str, Any]]:
    return [{"record": "contact", "contact_id": f"x{i}", "first_name": f"F{i}", "last_name": "L",
             "email": f"x{i}@example.com", "created": "2026-03-01T00:00:00Z"} for i in range(count)]


@pytest.fixture
def hub() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox()
    sandbox.start()
    sandbox.seed(RECORDS)
    yield sandbox
    sandbox.stop()


def api(hub: HubSpotSandbox, method: str, path: str, token: str | None = "", **kwargs: Any) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token or hub.private_token}"}
    return requests.request(method, hub.url + path, headers=headers, timeout=10, **kwargs)


class Receiver:
    """A webhook target on a real port that can fail its first N deliveries."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hooks/hubspot")
        def hook() -> tuple[str, int]:
            with self._lock:
                self.requests.append({"url": request.url, "headers": dict(request.headers),
                                      "body": request.get_data(as_text=True)})
                failing = len(self.requests) <= self.fail_first
            return ("busy", 503) if failing else ("", 204)

        self.server = ServerThread(app).start()
        self.url = f"{self.server.url}/hooks/hubspot"

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for r in self.requests for e in json.loads(r["body"])]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.server.stop()


# -- auth -------------------------------------------------------------------------------------------------------

def test_missing_or_unknown_token_is_401_with_hubspot_error_body(hub: HubSpotSandbox) -> None:
    for token in (None, "not-a-token"):
        response = api(hub, "GET", "/crm/v3/objects/contacts", token=token)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"] and body["message"]


def test_oauth_code_flow_refresh_and_expiry(hub: HubSpotSandbox) -> None:
    settings, credentials = hub.connection_settings()
    assert settings == {"api_base_url": hub.url, "portal_id": hub.portal_id, "app_id": hub.app_id}
    consent = requests.get(f"{hub.url}/oauth/authorize", params={
        "client_id": credentials["client_id"], "redirect_uri": "http://127.0.0.1:9/cb", "scope": "oauth",
        "state": "s-42"}, allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    query = parse_qs(urlparse(consent.headers["Location"]).query)
    assert query["state"] == ["s-42"]
    form = {"grant_type": "authorization_code", "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"], "redirect_uri": "http://127.0.0.1:9/cb",
            "code": query["code"][0]}
    tokens = requests.post(f"{hub.url}/oauth/v1/token", data=form, timeout=10).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 1800 and tokens["refresh_token"]
    # a code is single use
    assert requests.post(f"{hub.url}/oauth/v1/token", data=form, timeout=10).json()["status"] == "BAD_AUTH_CODE"

    ok = api(hub, "GET", "/crm/v3/objects/contacts", token=tokens["access_token"])
    assert ok.status_code == 200
    assert "X-HubSpot-RateLimit-Max" in ok.headers and "X-HubSpot-RateLimit-Daily" not in ok.headers
    info = requests.get(f"{hub.url}/oauth/v1/access-tokens/{tokens['access_token']}", timeout=10).json()
    assert info["hub_id"] == hub.portal_id and info["app_id"] == hub.app_id and info["scopes"]

    hub.tokens.expire_oauth_tokens()
    expired = api(hub, "GET", "/crm/v3/objects/contacts", token=tokens["access_token"])
    assert expired.status_code == 401 and expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    refreshed = requests.post(f"{hub.url}/oauth/v1/token", data={
        "grant_type": "refresh_token", "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"], "refresh_token": tokens["refresh_token"]}, timeout=10).json()
    assert api(hub, "GET", "/crm/v3/objects/contacts", token=refreshed["access_token"]).status_code == 200
    bad = requests.post(f"{hub.url}/oauth/v1/token", data={**form, "client_secret": "wrong"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_CLIENT_SECRET"


# -- objects, paging, batch limits ------------------------------------------------------------------------------

def test_list_pages_with_after_and_caps_limit_at_100() -> None:
    hub = HubSpotSandbox()
    hub.start()
    try:
        hub.seed(contact_rows(230))
        seen: list[str] = []
        after: str | None = None
        for _ in range(10):  # bounded: 230 records need 3 pages of 100
            params: dict[str, Any] = {"limit": 500, "properties": "email,firstname"}
            if after:
                params["after"] = after
            body = api(hub, "GET", "/crm/v3/objects/contacts", params=params).json()
            assert len(body["results"]) <= 100
            seen += [r["id"] for r in body["results"]]
            assert set(body["results"][0]["properties"]) == {"email", "firstname"}
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                break
        assert seen == hub.contact_ids() and len(seen) == 230
    finally:
        hub.stop()


def test_get_by_id_default_properties_history_and_404(hub: HubSpotSandbox) -> None:
    contact = hub.native_contact_id("c1")
    body = api(hub, "GET", f"/crm/v3/objects/contacts/{contact}").json()
    assert set(body["properties"]) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                                       "lastname"}
    assert body["properties"]["createdate"] == "2026-01-05T09:00:00.000Z"
    email = api(hub, "GET", f"/crm/v3/objects/emails/{hub.native_id('i1')}",
                params={"properties": "hs_email_direction,hs_email_text,hs_timestamp"}).json()
    assert email["properties"] == {"hs_email_direction": "INCOMING_EMAIL", "hs_email_text": "The setup is confusing.",
                                   "hs_timestamp": "2026-09-12T10:00:00.000Z"}
    missing = api(hub, "GET", "/crm/v3/objects/contacts/999999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    by_email = api(hub, "GET", "/crm/v3/objects/contacts/ada@example.com", params={"idProperty": "email"}).json()
    assert by_email["id"] == contact


def test_seed_maps_every_interaction_kind_to_its_native_object(hub: HubSpotSandbox) -> None:
    def read(object_type: str, exchange_id: str, props: str) -> dict[str, Any]:
        path = f"/crm/v3/objects/{object_type}/{hub.native_id(exchange_id)}"
        return api(hub, "GET", path, params={"properties": props}).json()["properties"]

    assert read("calls", "i2", "hs_call_direction,hs_call_body")["hs_call_direction"] == "OUTBOUND"
    assert read("notes", "i3", "hs_note_body")["hs_note_body"] == "Needs a follow-up."
    assert read("communications", "i4", "hs_communication_body")["hs_communication_body"].startswith("Where")
    survey = read("feedback_submissions", "i5", "hs_survey_type,hs_value,hs_content,hs_response_group")
    assert survey == {"hs_survey_type": "NPS", "hs_value": "4", "hs_content": "Too hard to start",
                      "hs_response_group": "DETRACTOR"}
    assert read("tickets", "i6", "subject,hs_pipeline_stage") == {"subject": "Import fails", "hs_pipeline_stage": "1"}
    deal = read("deals", "d1", "dealstage,dealtype,amount,closedate")
    assert deal == {"dealstage": "closedwon", "dealtype": "existingbusiness", "amount": "1200",
                    "closedate": "2026-09-01T00:00:00.000Z"}


def test_batch_input_limits_are_400_validation_errors(hub: HubSpotSandbox) -> None:
    inputs = [{"id": str(i)} for i in range(101)]
    for path, body in (("/crm/v3/objects/contacts/batch/read", {"properties": [], "propertiesWithHistory": [],
                                                                 "inputs": inputs}),
                       ("/crm/v3/objects/contacts/batch/update",
                        {"inputs": [{"id": str(i), "properties": {}} for i in range(101)]}),
                       ("/crm/v4/associations/contacts/emails/batch/read",
                        {"inputs": [{"id": str(i)} for i in range(1001)]})):
        response = api(hub, "POST", path, json=body)
        assert response.status_code == 400, path
        assert response.json()["category"] == "VALIDATION_ERROR"
    duplicate = api(hub, "POST", "/crm/v3/objects/contacts/batch/update",
                    json={"inputs": [{"id": "101", "properties": {}}, {"id": "101", "properties": {}}]})
    assert duplicate.status_code == 400


def create_cem_property(hub: HubSpotSandbox) -> None:
    assert api(hub, "POST", "/crm/v3/properties/contacts/groups",
               json={"name": "cem", "label": "CEM", "displayOrder": -1}).status_code == 201
    created = api(hub, "POST", "/crm/v3/properties/contacts/batch/create", json={"inputs": [
        {"name": "cem_emotion", "label": "CEM Emotion", "groupName": "cem", "type": "enumeration",
         "fieldType": "select", "options": [{"label": "Angry", "value": "angry", "displayOrder": 0, "hidden": False},
                                            {"label": "Calm", "value": "calm", "displayOrder": 1, "hidden": False}]},
        {"name": "cem_emotion_score", "label": "CEM Emotion Score", "groupName": "cem", "type": "number",
         "fieldType": "number"},
        {"name": "cem_updated_at", "label": "CEM Updated At", "groupName": "cem", "type": "datetime",
         "fieldType": "date"}]})
    assert created.status_code == 201, created.text
    assert [p["name"] for p in created.json()["results"]] == ["cem_emotion", "cem_emotion_score", "cem_updated_at"]


def test_property_definitions_validate_pairs_and_conflicts(hub: HubSpotSandbox) -> None:
    create_cem_property(hub)
    again = api(hub, "POST", "/crm/v3/properties/contacts", json={
        "name": "cem_emotion", "label": "x", "groupName": "cem", "type": "string", "fieldType": "text"})
    assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    assert api(hub, "POST", "/crm/v3/properties/contacts/groups", json={"name": "cem", "label": "CEM"}).status_code \
        == 409
    mismatched = api(hub, "POST", "/crm/v3/properties/contacts", json={
        "name": "cem_x", "label": "x", "groupName": "cem", "type": "number", "fieldType": "text"})
    assert mismatched.status_code == 400 and mismatched.json()["category"] == "VALIDATION_ERROR"
    fetched = api(hub, "GET", "/crm/v3/properties/contacts/cem_emotion").json()
    assert fetched["type"] == "enumeration" and [o["value"] for o in fetched["options"]] == ["angry", "calm"]
    patched = api(hub, "PATCH", "/crm/v3/properties/contacts/cem_emotion", json={"label": "Emotion (CEM)"}).json()
    assert patched["label"] == "Emotion (CEM)"
    read = api(hub, "POST", "/crm/v3/properties/contacts/batch/read",
               json={"archived": False, "inputs": [{"name": "cem_emotion"}, {"name": "nope"}]})
    assert read.status_code == 207 and read.json()["numErrors"] == 1
    assert api(hub, "GET", "/crm/v3/properties/contacts/groups/cem").json()["label"] == "CEM"


def test_batch_update_answers_207_for_partial_failure_and_200_when_all_succeed(hub: HubSpotSandbox) -> None:
    create_cem_property(hub)
    c1, c2 = hub.native_contact_id("c1"), hub.native_contact_id("c2")
    partial = api(hub, "POST", "/crm/v3/objects/contacts/batch/update", json={"inputs": [
        {"id": c1, "properties": {"cem_emotion": "angry", "cem_emotion_score": "-42.5",
                                  "cem_updated_at": "1790000000000"}},
        {"id": c2, "properties": {"cem_emotion": "furious"}, "objectWriteTraceId": "t2"},
        {"id": "999999", "properties": {"cem_emotion": "calm"}},
    ]})
    assert partial.status_code == 207
    body = partial.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 2
    assert [r["id"] for r in body["results"]] == [c1]
    assert body["results"][0]["properties"]["cem_updated_at"] == "2026-09-21T14:13:20.000Z"
    assert sorted(e["category"] for e in body["errors"]) == ["OBJECT_NOT_FOUND", "VALIDATION_ERROR"]
    invalid = next(e for e in body["errors"] if e["category"] == "VALIDATION_ERROR")
    assert "INVALID_OPTION" in invalid["message"] and invalid["context"]["objectWriteTraceId"] == ["t2"]
    unknown = api(hub, "POST", "/crm/v3/objects/contacts/batch/update", json={"inputs": [
        {"id": c1, "properties": {"cem_emotion_score": "10"}}, {"id": c2, "properties": {"cem_nope": "1"}}]})
    assert unknown.status_code == 207 and "PROPERTY_DOESNT_EXIST" in unknown.json()["errors"][0]["message"]

    stored = hub.contact_record(c1)
    assert stored["properties"]["cem_emotion"] == "angry"
    history = stored["propertiesWithHistory"]["cem_emotion"][0]
    assert history["sourceType"] == "INTEGRATION" and history["sourceId"] == str(hub.app_id)
    assert hub.contact_record(c2)["properties"].get("cem_emotion") is None

    ok = api(hub, "POST", "/crm/v3/objects/contacts/batch/update",
             json={"inputs": [{"id": c2, "properties": {"cem_emotion": "calm"}}]})
    assert ok.status_code == 200 and "errors" not in ok.json()
    single = api(hub, "PATCH", f"/crm/v3/objects/contacts/{c2}", json={"properties": {"cem_emotion": "bad"}})
    assert single.status_code == 400 and single.json()["category"] == "VALIDATION_ERROR"


# -- rate limits and faults ------------------------------------------------------------------------------------

def test_burst_limit_answers_429_with_hubspot_headers_and_body() -> None:
    hub = HubSpotSandbox(rate_limit=3, rate_window=10.0)
    hub.start()
    try:
        responses = [api(hub, "GET", "/crm/v3/objects/contacts") for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        first = responses[0].headers
        assert first["X-HubSpot-RateLimit-Max"] == "3" and first["X-HubSpot-RateLimit-Remaining"] == "2"
        assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert first["X-HubSpot-RateLimit-Daily"] == "250000" and first["X-HubSpot-RateLimit-Daily-Remaining"]
        limited = responses[3]
        assert limited.json()["errorType"] == "RATE_LIMIT"
        assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert 1 <= int(limited.headers["Retry-After"]) <= 10
        assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    finally:
        hub.stop()


def test_search_has_its_own_secondly_limit_and_no_rate_headers(hub: HubSpotSandbox) -> None:
    statuses = []
    for _ in range(6):
        response = api(hub, "POST", "/crm/v3/objects/contacts/search", json={"limit": 1})
        statuses.append(response.status_code)
        if response.status_code == 200:
            assert "X-HubSpot-RateLimit-Max" not in response.headers
    assert statuses.count(429) >= 1 and statuses[0] == 200


def test_fault_injection_and_latency(hub: HubSpotSandbox) -> None:
    hub.fail_next(2, 502)
    hub.fail_next(1, 429, retry_after=7)
    codes = [api(hub, "GET", "/crm/v3/objects/contacts").status_code for _ in range(3)]
    assert codes == [502, 502, 429]
    assert api(hub, "GET", "/crm/v3/objects/contacts").status_code == 200
    hub.fail_next(1, 429, retry_after=7)
    assert api(hub, "GET", "/crm/v3/objects/contacts").headers["Retry-After"] == "7"
    hub.latency = 0.2
    started = time.monotonic()
    api(hub, "GET", "/crm/v3/objects/contacts")
    assert time.monotonic() - started >= 0.2
    assert ("GET", "/crm/v3/objects/contacts") in hub.calls


# -- search and associations -----------------------------------------------------------------------------------

def test_search_filters_sorts_and_pages(hub: HubSpotSandbox) -> None:
    c1 = hub.native_contact_id("c1")
    body = api(hub, "POST", "/crm/v3/objects/contacts/search", json={
        "filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GTE",
                                       "value": str(1768000000000)}]}],  # 2026-01-09
        "properties": ["email"], "limit": 10}).json()
    assert body["total"] == 1 and body["results"][0]["properties"]["email"] == "bob@example.com"
    time.sleep(1.0)  # search is 5/s; stay clear of it
    first = api(hub, "POST", "/crm/v3/objects/contacts/search", json={
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}],
        "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}], "limit": 1}).json()
    assert first["total"] == 2 and first["results"][0]["id"] == c1 and first["paging"]["next"]["after"] == "1"
    too_big = api(hub, "POST", "/crm/v3/objects/contacts/search", json={"limit": 201})
    assert too_big.status_code == 400
    beyond = api(hub, "POST", "/crm/v3/objects/contacts/search", json={"limit": 100, "after": "9950"})
    assert beyond.status_code == 400


def test_association_reads_v4(hub: HubSpotSandbox) -> None:
    c1 = hub.native_contact_id("c1")
    for exchange_id in ("i7", "i8"):
        hub.add_interaction({"record": "interaction", "contact_id": "c1", "id": exchange_id, "kind": "email",
                             "direction": "outbound", "occurred_at": "2026-10-01T00:00:00Z", "body": "hi"},
                            notify=False)
    first = api(hub, "GET", f"/crm/v4/objects/contacts/{c1}/associations/emails", params={"limit": 2}).json()
    assert [r["toObjectId"] for r in first["results"]] == [int(hub.native_id("i1")), int(hub.native_id("i7"))]
    assert first["results"][0]["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 197,
                                                        "label": None}]
    second = api(hub, "GET", f"/crm/v4/objects/contacts/{c1}/associations/emails",
                 params={"limit": 2, "after": first["paging"]["next"]["after"]}).json()
    assert [r["toObjectId"] for r in second["results"]] == [int(hub.native_id("i8"))] and "paging" not in second
    back = api(hub, "GET", f"/crm/v4/objects/notes/{hub.native_id('i3')}/associations/contacts").json()
    assert back["results"][0]["toObjectId"] == int(c1) and back["results"][0]["associationTypes"][0]["typeId"] == 202

    batch = api(hub, "POST", "/crm/v4/associations/contacts/deals/batch/read",
                json={"inputs": [{"id": c1}, {"id": hub.native_contact_id("c2")}]})
    assert batch.status_code == 207
    body = batch.json()
    assert body["results"][0]["from"] == {"id": c1}
    assert body["results"][0]["to"][0]["toObjectId"] == int(hub.native_id("d1"))
    assert body["errors"][0]["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"


# -- webhooks --------------------------------------------------------------------------------------------------

def test_webhook_is_signed_v3_and_v1_verifiable_with_the_sdk(hub: HubSpotSandbox, receiver: Receiver) -> None:
    hub.subscribe(receiver.url, hub.tokens.client_secret)
    assert hub.emit_contact_changes([hub.native_contact_id("c1")]) == 1
    assert hub.sender.wait_idle(10)
    delivered = receiver.requests[0]
    headers = delivered["headers"]
    assert Signature.is_valid(signature=headers["X-Hubspot-Signature-V3"], client_secret=hub.tokens.client_secret,
                              request_body=delivered["body"], http_uri=delivered["url"], http_method="POST",
                              signature_version="v3", timestamp=headers["X-Hubspot-Request-Timestamp"])
    assert headers["X-Hubspot-Signature-Version"] == "v1"
    assert Signature.is_valid(signature=headers["X-Hubspot-Signature"], client_secret=hub.tokens.client_secret,
                              request_body=delivered["body"], signature_version="v1")
    assert not Signature.is_valid(signature=headers["X-Hubspot-Signature-V3"], client_secret="other-secret",
                                  request_body=delivered["body"], http_uri=delivered["url"], http_method="POST",
                                  signature_version="v3", timestamp=headers["X-Hubspot-Request-Timestamp"])
    event = json.loads(delivered["body"])[0]
    assert event["subscriptionType"] == "contact.propertyChange" and event["propertyName"] == "lifecyclestage"
    assert event["propertyValue"] == "customer" and event["portalId"] == hub.portal_id
    assert event["appId"] == hub.app_id and event["attemptNumber"] == 0 and event["changeSource"] == "CRM_UI"
    assert event["objectId"] == int(hub.native_contact_id("c1")) and isinstance(event["occurredAt"], int)


def test_webhook_retries_until_the_receiver_answers_2xx(hub: HubSpotSandbox) -> None:
    flaky = Receiver(fail_first=2)
    try:
        hub.subscribe(flaky.url, hub.tokens.client_secret)
        hub.emit_contact_changes([hub.native_contact_id("c2")])
        assert hub.sender.wait_idle(20)
        delivery = hub.sender.deliveries[0]
        assert delivery.delivered and delivery.statuses == [503, 503, 204]
        attempts = [json.loads(r["body"])[0]["attemptNumber"] for r in flaky.requests]
        assert attempts == [0, 1, 2]
        assert len({json.loads(r["body"])[0]["eventId"] for r in flaky.requests}) == 1
    finally:
        flaky.server.stop()


def test_webhook_batches_at_most_100_events_per_post(receiver: Receiver) -> None:
    hub = HubSpotSandbox()
    hub.start()
    try:
        hub.seed(contact_rows(150))
        hub.subscribe(receiver.url, hub.tokens.client_secret)
        assert hub.emit_contact_changes(hub.contact_ids()) == 150
        assert hub.sender.wait_idle(20)
        sizes = sorted(len(json.loads(r["body"])) for r in receiver.requests)
        assert sizes == [50, 100]
        assert len({e["eventId"] for e in receiver.events()}) == 150
    finally:
        hub.stop()


def test_api_writes_are_marked_integration_and_only_subscribed_properties_notify(
        hub: HubSpotSandbox, receiver: Receiver) -> None:
    create_cem_property(hub)
    hub.subscribe(receiver.url, hub.tokens.client_secret)
    c1 = hub.native_contact_id("c1")
    api(hub, "POST", "/crm/v3/objects/contacts/batch/update",
        json={"inputs": [{"id": c1, "properties": {"cem_emotion": "angry"}}]})
    assert hub.sender.wait_idle(10) and receiver.requests == []  # nobody subscribes to cem_* outputs
    own = hub.property_change_event(c1, "cem_emotion")
    assert own["changeSource"] == "INTEGRATION" and own["sourceId"] == str(hub.app_id)
    assert own["propertyValue"] == "angry"

    api(hub, "PATCH", f"/crm/v3/objects/contacts/{c1}", json={"properties": {"lifecyclestage": "evangelist"}})
    assert hub.sender.wait_idle(10)
    [event] = receiver.events()
    assert event["propertyName"] == "lifecyclestage" and event["propertyValue"] == "evangelist"
    assert event["changeSource"] == "INTEGRATION" and event["sourceId"] == str(hub.app_id)

    hub.update_contact(c1, {"firstname": "Augusta"})
    assert hub.sender.wait_idle(10)
    assert receiver.events()[-1]["changeSource"] == "CRM_UI"


def test_interaction_and_deletion_events(hub: HubSpotSandbox, receiver: Receiver) -> None:
    hub.subscribe(receiver.url, hub.tokens.client_secret)
    email_id = hub.add_interaction({"record": "interaction", "contact_id": "c2", "id": "n1", "kind": "email",
                                    "direction": "inbound", "occurred_at": "2026-10-02T08:00:00Z",
                                    "subject": "Billing", "body": "I was charged twice."})
    ticket_id = hub.add_interaction({"record": "interaction", "contact_id": "c2", "id": "n2", "kind": "ticket",
                                     "direction": "inbound", "occurred_at": "2026-10-02T09:00:00Z",
                                     "subject": "Refund", "body": "Please refund."})
    assert hub.sender.wait_idle(10)
    creation, ticket, to_ticket, to_contact = receiver.events()
    assert creation["subscriptionType"] == "object.creation" and creation["objectTypeId"] == "0-49"
    assert creation["objectId"] == int(email_id) and creation["changeFlag"] == "CREATED"
    assert ticket["subscriptionType"] == "ticket.creation" and ticket["objectId"] == int(ticket_id)
    assert {to_ticket["associationType"], to_contact["associationType"]} == {"CONTACT_TO_TICKET", "TICKET_TO_CONTACT"}
    c2 = hub.native_contact_id("c2")
    linked = api(hub, "GET", f"/crm/v4/objects/emails/{email_id}/associations/contacts").json()
    assert linked["results"][0]["toObjectId"] == int(c2)

    assert hub.emit_deletion(c2) == 2
    assert hub.sender.wait_idle(10)
    last_two = [json.loads(r["body"]) for r in receiver.requests[-2:]]
    assert [b[0]["subscriptionType"] for b in last_two] == ["contact.deletion", "contact.privacyDeletion"]
    assert api(hub, "GET", f"/crm/v3/objects/contacts/{c2}").status_code == 404


def test_seeds_the_demo_dataset_with_native_ids_and_associations() -> None:
    from sandbox.dataset import demo_records

    records = demo_records()
    hub = HubSpotSandbox()
    hub.start()
    try:
        hub.seed(records)
        contacts = [r for r in records if r["record"] == "contact"]
        assert len(hub.contact_ids()) == len(contacts)
        assert all(i.isdigit() for i in hub.contact_ids())
        interactions = [r for r in records if r["record"] == "interaction" and r["contact_id"] == "demo-001"]
        native = hub.native_contact_id("demo-001")
        linked = 0
        for to_type in ("emails", "calls", "notes", "meetings", "tickets", "communications", "feedback_submissions"):
            body = api(hub, "GET", f"/crm/v4/objects/contacts/{native}/associations/{to_type}").json()
            linked += len(body["results"])
        assert linked == len(interactions)
        closed = next((r for r in records if r["record"] == "interaction" and r["kind"] == "ticket"
                       and r["metadata"].get("status") == "closed"), None)
        if closed is not None:
            ticket = api(hub, "GET", f"/crm/v3/objects/tickets/{hub.native_id(closed['id'])}").json()
            assert ticket["properties"]["hs_pipeline_stage"] == "4"
    finally:
        hub.stop()


def test_concurrent_batch_updates_are_all_applied(hub: HubSpotSandbox) -> None:
    create_cem_property(hub)
    hub.seed(contact_rows(40))
    ids = hub.contact_ids()[-40:]
    chunks = [ids[i:i + 10] for i in range(0, 40, 10)]

    def write(chunk: list[str]) -> int:
        body = {"inputs": [{"id": i, "properties": {"cem_emotion_score": str(int(i) % 7)}} for i in chunk]}
        return api(hub, "POST", "/crm/v3/objects/contacts/batch/update", json=body).status_code

    results: list[int] = []
    threads = [threading.Thread(target=lambda c=c: results.append(write(c))) for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == [200, 200, 200, 200]
    assert all(hub.contact_record(i)["properties"]["cem_emotion_score"] == str(int(i) % 7) for i in ids)
