"""Browser-facing security of the console and the rep pages (issue 13 item 6, issue 15): CSRF on every
POST a browser could forge, sign-in lockout, session cookie flags, CSP and framing, HSTS, no framework
version in `Server`, redirects that ignore `Host`."""

from __future__ import annotations

import base64
import re
from dataclasses import replace

import pytest
import requests

from connector.app import create_app
from connector.connections import create_connection
from connector.store import DeadLetter
from connector.web.auth import MAX_FAILURES, sign_journey
from sandbox.server import ServerThread


@pytest.fixture
def runtime(runtime_factory, redis_server_url: str):  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    rt.settings = replace(rt.settings, public_url="http://localhost")
    return rt


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{token}".encode()).decode()}


def _csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def _dead_letter(runtime, connection_id: int) -> int:  # type: ignore[no-untyped-def]
    with runtime.store.session() as session:
        letter = DeadLetter(connection_id=connection_id, contact_id="7", job="refresh", payload={"contact_id": "7"},
                            error="TransientError: HubSpot did not answer (ReadTimeout); will retry.", attempts=6)
        session.add(letter)
        session.flush()
        return letter.id


def _open_letters(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.store.session() as session:
        return sum(1 for d in session.query(DeadLetter) if d.replayed_at is None)


def test_cross_site_posts_fail_without_the_csrf_token(runtime) -> None:  # type: ignore[no-untyped-def]
    connection_id = create_connection(runtime.store, runtime.box, platform="hubspot", name="c", settings={},
                                      credentials={})
    _dead_letter(runtime, connection_id)
    client = create_app(runtime).test_client()
    token = runtime.settings.admin_token
    # a forged form post riding on the browser's Basic credentials or on a signed-in session
    for path in ("/admin/replay", "/admin/api/replay", f"/admin/install/{connection_id}"):
        forged = client.post(path, data={"letter_id": "1"}, headers=_basic(token))
        assert forged.status_code == 400, (path, forged.status_code)
    login_page = client.get("/admin/login")
    signed_in = client.post("/admin/login", data={"token": token, "csrf_token": _csrf_from(login_page.text)})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/admin/"
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # http here
    assert client.post("/admin/replay", data={}).status_code == 400
    assert _open_letters(runtime) == 1
    # the console's own form carries the token and works
    page = client.get("/admin/")
    assert page.status_code == 200 and "HubSpot did not answer" in page.text
    done = client.post("/admin/replay", data={"csrf_token": _csrf_from(page.text)})
    assert done.status_code == 302 and _open_letters(runtime) == 0
    # API clients with a Bearer token cannot be forged cross-site and need no CSRF token
    assert client.post("/admin/api/replay", json={}, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_wrong_admin_tokens_lock_the_address_out(runtime) -> None:  # type: ignore[no-untyped-def]
    client = create_app(runtime).test_client()
    token = runtime.settings.admin_token
    for _ in range(MAX_FAILURES):
        assert client.get("/admin/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
    locked = client.get("/admin/api/status", headers={"Authorization": f"Bearer {token}"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    page = client.get("/admin/login")
    form = client.post("/admin/login", data={"token": token, "csrf_token": _csrf_from(page.text)})
    assert form.status_code == 429 and "Too many wrong tokens" in form.text


def test_behind_a_trusted_proxy_the_lockout_counts_the_client_address(runtime) -> None:  # type: ignore[no-untyped-def]
    """Behind Heroku's router every request comes from the router: without CEM_TRUSTED_PROXIES one guesser
    locked every admin out. With it, each client is counted on its own; without it, the header is ignored."""
    token = runtime.settings.admin_token
    wrong = {"Authorization": "Bearer wrong"}
    proxy = {"REMOTE_ADDR": "10.0.0.1"}  # the router
    runtime.settings = replace(runtime.settings, trusted_proxies=1)
    client = create_app(runtime).test_client()
    for _ in range(MAX_FAILURES):
        client.get("/admin/api/status", headers={**wrong, "X-Forwarded-For": "203.0.113.9"}, environ_base=proxy)
    guesser = client.get("/admin/api/status", headers={"Authorization": f"Bearer {token}",
                                                       "X-Forwarded-For": "203.0.113.9"}, environ_base=proxy)
    assert guesser.status_code == 429
    admin = client.get("/admin/api/status", headers={"Authorization": f"Bearer {token}",
                                                     "X-Forwarded-For": "198.51.100.7"}, environ_base=proxy)
    assert admin.status_code == 200
    # Not trusted (the default): a guesser cannot dodge the lockout by inventing X-Forwarded-For values.
    runtime.settings = replace(runtime.settings, trusted_proxies=0)
    direct = create_app(runtime).test_client()
    for n in range(MAX_FAILURES):
        direct.get("/admin/api/status", headers={**wrong, "X-Forwarded-For": f"192.0.2.{n}"},
                   environ_base={"REMOTE_ADDR": "10.9.9.9"})
    dodged = direct.get("/admin/api/status", headers={"Authorization": f"Bearer {token}",
                                                      "X-Forwarded-For": "192.0.2.200"},
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert dodged.status_code == 429


def test_a_right_token_resets_the_count(runtime) -> None:  # type: ignore[no-untyped-def]
    client = create_app(runtime).test_client()
    good = {"Authorization": f"Bearer {runtime.settings.admin_token}"}
    for _ in range(3):
        for _ in range(MAX_FAILURES - 1):
            client.get("/admin/api/status", headers={"Authorization": "Bearer wrong"})
        assert client.get("/admin/api/status", headers=good).status_code == 200


def test_framing_and_security_headers(runtime) -> None:  # type: ignore[no-untyped-def]
    connection_id = create_connection(runtime.store, runtime.box, platform="hubspot", name="h", settings={},
                                      credentials={})
    app = create_app(runtime)
    client = app.test_client()
    with app.app_context():
        token = sign_journey(connection_id, "9")
    rep = client.get(f"/journey/{connection_id}/9?token={token}")  # not analysed yet: a styled 404 page
    assert rep.status_code == 404 and "text/html" in rep.content_type
    policy = rep.headers["Content-Security-Policy"]
    for crm in ("https://*.lightning.force.com", "https://app.hubspot.com", "https://*.dynamics.com"):
        assert crm in policy, policy
    assert "X-Frame-Options" not in rep.headers
    console = client.get("/admin/")
    assert "frame-ancestors 'none'" in console.headers["Content-Security-Policy"]
    assert console.headers["X-Frame-Options"] == "DENY"
    for response in (rep, console, client.get("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers  # plain http: HSTS would be ignored
    assert console.headers["Cache-Control"] == "no-store"


def test_behind_https_cookies_are_secure_and_hsts_is_sent(runtime) -> None:  # type: ignore[no-untyped-def]
    runtime.settings = replace(runtime.settings, public_url="https://cem.example.com")
    client = create_app(runtime).test_client()
    page = client.get("/admin/login", base_url="https://cem.example.com")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    signed_in = client.post("/admin/login", base_url="https://cem.example.com",
                            headers={"Referer": "https://cem.example.com/admin/login"},
                            data={"token": runtime.settings.admin_token, "csrf_token": _csrf_from(page.text)})
    assert signed_in.status_code == 302 and "Secure" in signed_in.headers["Set-Cookie"]


def test_redirects_ignore_the_host_header_and_the_server_header_names_no_version(runtime) -> None:  # type: ignore[no-untyped-def]
    server = ServerThread(create_app(runtime)).start()
    try:
        for path in ("/admin", "/admin/logout"):
            response = requests.request("GET" if path == "/admin" else "POST", server.url + path,
                                        headers={"Host": "evil.example"}, allow_redirects=False, timeout=5)
            location = response.headers.get("Location", "")
            assert "evil.example" not in location, (path, location)
            assert not re.search(r"werkzeug|python|flask", response.headers.get("Server", ""), re.I)
        login = requests.get(server.url + "/admin/login?next=//evil.example/x", timeout=5)
        assert "evil.example" not in login.text
    finally:
        server.stop()


def test_production_refuses_weak_secrets_and_plain_http(runtime) -> None:  # type: ignore[no-untyped-def]
    from connector.errors import SettingsError

    strong = {"admin_token": "a" * 32, "signing_key": "k" * 43, "public_url": "https://cem.example.com"}
    for weak, words in (({"admin_token": "x"}, "CEM_ADMIN_TOKEN has 1 characters"),
                        ({"signing_key": "short"}, "CEM_SIGNING_KEY has 5"),
                        ({"public_url": "http://cem.example.com"}, "must be the https:// address")):
        runtime.settings = replace(runtime.settings, production=True, **{**strong, **weak})
        with pytest.raises(SettingsError, match=words):
            create_app(runtime)
    runtime.settings = replace(runtime.settings, production=True, **strong)
    assert create_app(runtime).test_client().get("/healthz").status_code == 200
