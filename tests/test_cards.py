"""The record-view data endpoint: each CRM's own proof of origin, the summary it answers, CORS for Dynamics."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from connector.app import create_app
from connector.connections import create_connection
from tests.crm_views import hubspot_v3, salesforce_signature, store_profile
from webhooks.dynamics import CARD_TOKEN_HEADER, card_token

PUBLIC = "https://cem.example.com"
SECRET = "app-client-secret"
ORG_ID = "00D000000000001EAA"


@pytest.fixture
def runtime(runtime_factory, redis_server_url: str):  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    rt.settings = replace(rt.settings, public_url=PUBLIC)
    return rt


def _connection(rt, platform: str, **kwargs) -> int:  # type: ignore[no-untyped-def]
    return create_connection(rt.store, rt.box, platform=platform, name=f"{platform}-card", credentials={},
                             webhook_secrets=[SECRET], **{"settings": {}, **kwargs})


def test_hubspot_card_gets_the_summary_with_a_v3_signed_request(runtime) -> None:  # type: ignore[no-untyped-def]
    connection = _connection(runtime, "hubspot", account_id="111")
    profile = store_profile(runtime, connection, "501")
    client = create_app(runtime).test_client()
    path = f"/cards/hubspot/{connection}/summary"
    body = json.dumps({"contactId": 501}).encode()

    response = client.post(path, data=body, headers=hubspot_v3(SECRET, "POST", PUBLIC + path, body))
    assert response.status_code == 200, response.data
    data = response.json
    assert data["status"] == "ready" and data["contactId"] == "501"
    # what the engine concluded, as the record views show it
    assert data["stage"] == {"key": "onboarding", "label": "Onboarding", "since": profile["journey_stage_since"]}
    assert data["emotion"]["key"] == profile["emotion"] == "confused" and data["emotion"]["label"] == "Confused"
    assert data["emotion"]["score"] == profile["emotion_score"] and data["emotion"]["trendDirection"] == "down"
    risk = profile["churn_risk"]
    assert data["risk"] == {"score": risk, "band": "high" if risk >= 67 else "medium" if risk >= 34 else "low"}
    assert data["reason"]["key"] == profile["churn_reason"] == "onboarding_confusion"
    assert data["reason"]["label"] == "Onboarding confusion"
    top = profile["explanation"]["reason_evidence"][0]  # the strongest evidence, in the customer's words
    assert data["reason"]["quote"] == top["quote"] and data["reason"]["quoteDate"] == top["date"]
    assert data["reason"]["quoteKind"] == top["kind"]
    assert data["journeyUrl"].startswith(f"{PUBLIC}/journey/{connection}/501?token=")

    # the signed journey link opens the full map
    journey = client.get(data["journeyUrl"].removeprefix(PUBLIC))
    assert journey.status_code == 200 and b"Onboarding" in journey.data

    # the portal HubSpot names must be this connection's
    other = client.post(path + "?portalId=222", data=body,
                        headers=hubspot_v3(SECRET, "POST", PUBLIC + path + "?portalId=222", body))
    assert other.status_code == 403 and "Portal 222" in other.json["error"]


def test_hubspot_card_refuses_anything_but_a_fresh_v3_signature(runtime) -> None:  # type: ignore[no-untyped-def]
    connection = _connection(runtime, "hubspot", account_id="111")
    client = create_app(runtime).test_client()
    path = f"/cards/hubspot/{connection}/summary"
    body = json.dumps({"contactId": "501"}).encode()
    signed = hubspot_v3(SECRET, "POST", PUBLIC + path, body)

    tampered = client.post(path, data=json.dumps({"contactId": "502"}).encode(), headers=signed)
    assert tampered.status_code == 401
    wrong_secret = client.post(path, data=body, headers=hubspot_v3("other", "POST", PUBLIC + path, body))
    assert wrong_secret.status_code == 401
    stale = client.post(path, data=body, headers=hubspot_v3(SECRET, "POST", PUBLIC + path, body,
                                                            int((time.time() - 600) * 1000)))
    assert stale.status_code == 401 and "tolerance" in stale.json["error"]
    legacy = {"Content-Type": "application/json", "X-HubSpot-Signature": "x", "X-HubSpot-Signature-Version": "v1"}
    assert client.post(path, data=body, headers=legacy).status_code == 401
    # a signature for one record view cannot be replayed against another connection's URL
    elsewhere = client.post(f"/cards/hubspot/{connection}/summary?x=1", data=body, headers=signed)
    assert elsewhere.status_code == 401


def test_unknown_contact_is_pending_and_bad_bodies_are_400(runtime) -> None:  # type: ignore[no-untyped-def]
    connection = _connection(runtime, "hubspot", account_id="111")
    client = create_app(runtime).test_client()
    path = f"/cards/hubspot/{connection}/summary"
    body = json.dumps({"contactId": "999"}).encode()
    pending = client.post(path, data=body, headers=hubspot_v3(SECRET, "POST", PUBLIC + path, body))
    assert pending.status_code == 200 and pending.json["status"] == "pending"
    for bad in (b"[]", b"{}", b'{"contactId": true}', b"not json", json.dumps({"contactId": "x" * 101}).encode()):
        response = client.post(path, data=bad, headers=hubspot_v3(SECRET, "POST", PUBLIC + path, bad))
        assert response.status_code == 400, bad
    assert client.post(f"/cards/hubspot/{connection + 50}/summary", data=body).status_code == 404
    assert client.post(f"/cards/zoho/{connection}/summary", data=body).status_code == 404
    # a Salesforce connection id under the HubSpot path is not a HubSpot connection
    salesforce = _connection(runtime, "salesforce", account_id=ORG_ID)
    assert client.post(f"/cards/hubspot/{salesforce}/summary", data=body).status_code == 404


def test_salesforce_apex_callout_is_verified_like_its_webhooks(runtime) -> None:  # type: ignore[no-untyped-def]
    connection = _connection(runtime, "salesforce", account_id=ORG_ID)
    store_profile(runtime, connection, "003000000000001AAA")
    client = create_app(runtime).test_client()
    path = f"/cards/salesforce/{connection}/summary"
    body = json.dumps({"contactId": "003000000000001AAA", "organizationId": ORG_ID}).encode()

    response = client.post(path, data=body, headers=salesforce_signature(SECRET, body))
    assert response.status_code == 200 and response.json["reason"]["key"] == "onboarding_confusion"
    assert client.post(path, data=body, headers=salesforce_signature("wrong", body)).status_code == 401
    foreign = json.dumps({"contactId": "003000000000001AAA", "organizationId": "00D000000000009EAA"}).encode()
    assert client.post(path, data=foreign, headers=salesforce_signature(SECRET, foreign)).status_code == 403
    stale = salesforce_signature(SECRET, body, int(time.time()) - 3600)
    assert client.post(path, data=body, headers=stale).status_code == 401


def test_dynamics_web_resource_token_and_cors(runtime) -> None:  # type: ignore[no-untyped-def]
    org = "https://acme.crm4.dynamics.com"
    connection = _connection(runtime, "dynamics", settings={"org_url": org + "/"})
    guid = "6f1c2b3a-0000-4000-8000-00000000abcd"
    store_profile(runtime, connection, guid)
    client = create_app(runtime).test_client()
    path = f"/cards/dynamics/{connection}/summary"
    body = json.dumps({"contactId": "{" + guid.upper() + "}"}).encode()  # as Xrm hands the id over
    token = card_token(SECRET, connection)

    preflight = client.options(path, headers={"Origin": org, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type,x-cem-card-token"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == org
    assert "X-CEM-Card-Token" in preflight.headers["Access-Control-Allow-Headers"]
    assert client.options(path, headers={"Origin": "https://evil.example"}).status_code == 403

    response = client.post(path, data=body, headers={"Origin": org, "Content-Type": "application/json",
                                                     CARD_TOKEN_HEADER: token})
    assert response.status_code == 200 and response.json["contactId"] == guid
    assert response.headers["Access-Control-Allow-Origin"] == org

    refused = client.post(path, data=body, headers={"Origin": org, CARD_TOKEN_HEADER: card_token("old", connection)})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == org
    other_connection = client.post(path, data=body, headers={CARD_TOKEN_HEADER: card_token(SECRET, connection + 1)})
    assert other_connection.status_code == 401
    # another site gets no CORS grant, so a browser there cannot read the answer
    evil = client.post(path, data=body, headers={"Origin": "https://evil.example", CARD_TOKEN_HEADER: token})
    assert "Access-Control-Allow-Origin" not in evil.headers
