"""The web app beyond the per-platform receivers: multi-portal HubSpot routing, the OAuth consent flow,
the journey view, health."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from connector.app import create_app
from connector.connections import create_connection, get_connection
from connector.store import ContactAnalysis
from connector.web.auth import sign_journey
from sandbox.hubspot import HubSpotSandbox
from webhooks.hubspot import signature_headers

SECRET = "shared-app-client-secret"


def _hubspot_batch(portal_id: int, contact_ids: list[int], first_event: int) -> bytes:
    return json.dumps([{"eventId": first_event + i, "subscriptionId": 7, "portalId": portal_id, "appId": 99,
                        "occurredAt": int(time.time() * 1000), "subscriptionType": "contact.propertyChange",
                        "attemptNumber": 0, "objectId": cid, "propertyName": "lifecyclestage",
                        "propertyValue": "customer", "changeSource": "CRM_UI"} for i, cid in enumerate(contact_ids)
                       ]).encode()


def _v3_headers(url: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", **signature_headers(secret, url, body)}


@pytest.fixture
def runtime(runtime_factory, redis_server_url: str):  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    rt.settings = replace(rt.settings, public_url="http://localhost")
    return rt


def test_one_public_app_url_routes_events_by_portal(runtime) -> None:  # type: ignore[no-untyped-def]
    first = create_connection(runtime.store, runtime.box, platform="hubspot", name="acme", settings={},
                              credentials={}, webhook_secrets=[SECRET], account_id="111")
    second = create_connection(runtime.store, runtime.box, platform="hubspot", name="globex", settings={},
                               credentials={}, webhook_secrets=[SECRET], account_id="222")
    client = create_app(runtime).test_client()
    body = _hubspot_batch(111, [1, 2], 10)[:-1] + b"," + _hubspot_batch(222, [3], 20)[1:]
    response = client.post("/webhooks/hubspot", data=body, headers=_v3_headers("http://localhost/webhooks/hubspot",
                                                                                body))
    assert response.status_code == 200, response.data
    assert response.json == {"received": 3, "new": 3}
    inbox = {cid: runtime.queue.deliveries.peek(cid, 100) for cid in (first, second)}
    assert sorted(e["object_id"] for e in inbox[first]) == ["1", "2"]
    assert [e["object_id"] for e in inbox[second]] == ["3"]

    # a portal nobody connected is not trusted, even with a valid app signature; nor acknowledged:
    # HubSpot keeps redelivering it (for a day), so connecting that portal meanwhile loses nothing
    body = _hubspot_batch(333, [4], 30)
    response = client.post("/webhooks/hubspot", data=body, headers=_v3_headers("http://localhost/webhooks/hubspot",
                                                                                body))
    assert response.status_code == 403 and "333" in response.json["error"]
    assert len(runtime.queue.rq.jobs) == 2


def test_unknown_connection_and_platform_are_clear_404s(runtime) -> None:  # type: ignore[no-untyped-def]
    client = create_app(runtime).test_client()
    response = client.post("/webhooks/hubspot/999", data=b"[]", headers={"Content-Type": "application/json"})
    assert response.status_code == 404 and "check the webhook URL" in response.json["error"]
    response = client.post("/webhooks/zoho/1", data=b"[]", headers={"Content-Type": "application/json"})
    assert response.status_code == 404 and "Unknown platform" in response.json["error"]


def test_hubspot_oauth_consent_flow_stores_tokens(runtime) -> None:  # type: ignore[no-untyped-def]
    sandbox = HubSpotSandbox()
    sandbox.start()
    try:
        settings, credentials = sandbox.connection_settings()
        connection_id = create_connection(
            runtime.store, runtime.box, platform="hubspot", name="oauth",
            settings={**settings, "authorize_url": f"{sandbox.url}/oauth/authorize"},
            credentials={"client_id": credentials["client_id"], "client_secret": credentials["client_secret"]})
        client = create_app(runtime).test_client()
        assert client.get(f"/oauth/hubspot/start?connection={connection_id}").status_code == 401
        admin = {"Authorization": f"Bearer {runtime.settings.admin_token}"}
        start = client.get(f"/oauth/hubspot/start?connection={connection_id}", headers=admin)
        assert start.status_code == 302
        consent = urlparse(start.headers["Location"])
        assert parse_qs(consent.query)["redirect_uri"] == ["http://localhost/oauth/hubspot/callback"]
        assert "crm.objects.contacts.write" in parse_qs(consent.query)["scope"][0]
        # the admin approves on HubSpot's consent screen, which redirects back with a code and our state
        back = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
        assert back.status_code == 302
        callback = urlparse(back.headers["Location"])
        done = client.get(f"{callback.path}?{callback.query}")
        assert done.status_code == 200, done.data
        assert b"is authorized" in done.data
        row = get_connection(runtime.store, connection_id)
        stored = runtime.box.open(row.credentials)
        assert stored["access_token"] and stored["refresh_token"] and stored["expires_at"] > time.time()
        assert row.account_id == str(sandbox.portal_id)
        # a forged or replayed state is refused
        forged = client.get(f"{callback.path}?code=abc&state=forged")
        assert forged.status_code == 400
    finally:
        sandbox.stop()


def test_journey_view_needs_a_valid_signed_link(runtime) -> None:  # type: ignore[no-untyped-def]
    connection_id = create_connection(runtime.store, runtime.box, platform="hubspot", name="j", settings={},
                                      credentials={})
    with runtime.store.session() as session:
        session.add(ContactAnalysis(connection_id=connection_id, contact_id="42", desired={}, profile={
            "journey_stage": "at_risk", "journey_stage_since": "2026-10-01T00:00:00+00:00", "emotion": "frustrated",
            "emotion_score": -40.0, "emotion_trend": -12.0, "churn_risk": 61, "churn_reason": "support_friction",
            "churn_reason_detail": 'Support friction. Email 2026-10-02: "still waiting"',
            "explanation": {"stage_history": [{"stage": "onboarding", "since": "2026-08-01T00:00:00Z"},
                                              {"stage": "at_risk", "since": "2026-10-01T00:00:00Z"}],
                            "stage_emotions": {"onboarding": {"score": 10, "count": 3, "pain_points": []}},
                            "risk_signals": [{"signal": "unresolved_cases", "points": 20, "detail": "2 open"}]}}))
    app = create_app(runtime)
    client = app.test_client()
    with app.app_context():
        token = sign_journey(connection_id, "42")
        other = sign_journey(connection_id, "43")
    page = client.get(f"/journey/{connection_id}/42?token={token}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    # words, not codes: the reason and signal as a rep reads them, stages skipped and still to come shown
    assert "Support friction" in text and "Support cases still open" in text and "still waiting" in text
    assert "support_friction" not in text and "unresolved_cases" not in text and "{'" not in text
    assert "Onboarding" in text and "At risk" in text and "Advocacy" in text
    assert "appears after this contact's next analysis" in text  # stored before display records existed
    unknown_token = None
    with app.app_context():
        unknown_token = sign_journey(connection_id, "nobody")
    missing = client.get(f"/journey/{connection_id}/nobody?token={unknown_token}")
    assert missing.status_code == 404 and missing.content_type.startswith("text/html")
    assert "No journey for this contact yet" in missing.get_data(as_text=True)
    assert client.get(f"/journey/{connection_id}/42").status_code == 403
    assert client.get(f"/journey/{connection_id}/42?token={other}").status_code == 403
    assert client.get(f"/journey/{connection_id}/42?token={token[:-2]}xx").status_code == 403


def test_health_reports_database_and_queue(runtime) -> None:  # type: ignore[no-untyped-def]
    response = create_app(runtime).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"database": True, "queue": True}


def test_pages_answer_503_while_the_database_is_away(runtime) -> None:  # type: ignore[no-untyped-def]
    """A failover or a restart of PostgreSQL: the console, its API and rep pages say "temporarily unavailable,
    retry in 30 s" (503 + Retry-After), not "internal error" (500), and never a stack trace."""
    from connector.store import Store

    connection_id = create_connection(runtime.store, runtime.box, platform="hubspot", name="away", settings={},
                                      credentials={})
    app = create_app(runtime)
    client = app.test_client()
    with app.app_context():
        token = sign_journey(connection_id, "42")
    admin = {"Authorization": f"Bearer {runtime.settings.admin_token}"}
    runtime.store = Store("postgresql+psycopg://postgres@127.0.0.1:1/test")  # nothing listens there
    api = client.get("/admin/api/status", headers=admin)
    assert api.status_code == 503 and api.headers["Retry-After"] == "30"
    assert "cannot reach its database" in api.json["error"]
    for path, headers in ((f"/journey/{connection_id}/42?token={token}", {}), ("/admin/", admin)):
        page = client.get(path, headers={**headers, "Accept": "text/html"})
        assert page.status_code == 503, (path, page.status_code)
        assert page.content_type.startswith("text/html") and "Temporarily unavailable" in page.text
        assert "Traceback" not in page.text
