"""A stand-in for the Microsoft Entra ID (Azure AD) endpoints that MSAL calls for client credentials.

MSAL refuses any authority that is not ``https://`` (``msal.authority.canonicalize``), so this
server speaks TLS with a throw-away self-signed certificate for ``localhost``; the adapter trusts
it through its ``ca_bundle`` setting, the one knob an admin behind a TLS-inspecting proxy uses too.
It answers exactly what msal 1.x requests, in order:

1. ``GET /<tenant>/v2.0/.well-known/openid-configuration`` (tenant discovery),
2. ``POST /<tenant>/oauth2/v2.0/token`` with ``grant_type=client_credentials``.

(Instance discovery is not served: msal would send it to login.microsoftonline.com for any host it
does not know, so the adapter turns it off; for Microsoft's own hosts msal skips it anyway.)

Error bodies follow Entra's shape (``error``, ``error_description`` with an AADSTS code).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.serving import make_ssl_devcert

from ..server import ServerThread

LOGIN_HOST = "localhost"  # the certificate's name; resolves to loopback


@dataclass
class IssuedToken:
    client_id: str
    resource: str  # the org URL the token is valid for (scope minus "/.default")
    expires_at: float


@dataclass
class EntraDirectory:
    """Registered apps (client id -> secret) and the tokens issued to them."""

    tenant_id: str
    apps: dict[str, str] = field(default_factory=dict)
    known_resources: set[str] = field(default_factory=set)
    token_lifetime: int = 3599
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    token_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, client_id: str, resource: str) -> tuple[str, int]:
        token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = IssuedToken(client_id, resource, time.time() + self.token_lifetime)
            self.token_requests += 1
        return token, self.token_lifetime

    def check(self, token: str, resource: str) -> IssuedToken | None:
        """The issued token when it is known, unexpired and meant for ``resource``."""
        with self._lock:
            issued = self.tokens.get(token)
        if issued is None or issued.expires_at < time.time() or issued.resource.rstrip("/") != resource.rstrip("/"):
            return None
        return issued

    def revoke_all(self) -> None:
        with self._lock:
            self.tokens.clear()


def create_login_app(directory: EntraDirectory, base_url: str) -> Flask:
    app = Flask("sandbox-entra")
    tenant = directory.tenant_id

    def aad_error(status: int, error: str, code: str, description: str):  # type: ignore[no-untyped-def]
        body = {"error": error, "error_description": f"{code}: {description}",
                "error_codes": [int(code[len("AADSTS"):])],
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                "trace_id": secrets.token_hex(8), "correlation_id": secrets.token_hex(8)}
        return jsonify(body), status

    @app.get("/<tenant_id>/v2.0/.well-known/openid-configuration")
    def openid_configuration(tenant_id: str):  # type: ignore[no-untyped-def]
        if tenant_id != tenant:
            return aad_error(400, "invalid_tenant", "AADSTS90002",
                             f"Tenant '{tenant_id}' not found. Check the tenant id of your Entra app registration.")
        root = f"{base_url}/{tenant}"
        return jsonify({
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base_url}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        })

    @app.post("/<tenant_id>/oauth2/v2.0/token")
    def token(tenant_id: str):  # type: ignore[no-untyped-def]
        if tenant_id != tenant:
            return aad_error(400, "invalid_request", "AADSTS90002", f"Tenant '{tenant_id}' not found.")
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return aad_error(400, "unsupported_grant_type", "AADSTS70003",
                             "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        if client_id not in directory.apps:
            return aad_error(400, "unauthorized_client", "AADSTS700016",
                             f"Application with identifier '{client_id}' was not found in the directory.")
        if not secrets.compare_digest(form.get("client_secret", ""), directory.apps[client_id]):
            return aad_error(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.")
        scopes = form.get("scope", "").split()
        resource = next((s[: -len("/.default")] for s in scopes if s.endswith("/.default")), None)
        if resource is None or resource.rstrip("/") not in {r.rstrip("/") for r in directory.known_resources}:
            return aad_error(400, "invalid_scope", "AADSTS500011",
                             f"The resource principal named {resource} was not found in the tenant.")
        access_token, lifetime = directory.issue(client_id, resource)
        return jsonify({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                        "access_token": access_token})

    return app


class TLSServerThread:
    """``sandbox.server.ServerThread`` over HTTPS with a fresh self-signed certificate for LOGIN_HOST."""

    def __init__(self, directory: EntraDirectory, host: str = "127.0.0.1", port: int = 0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sandbox-entra-")
        self.cert_file, key_file = make_ssl_devcert(str(Path(self._tmp.name) / "login"), host=LOGIN_HOST)
        # Bind first (to learn the port), then build the app that must know its own URL.
        self._app_holder: dict[str, Flask] = {}
        self._server = ServerThread(self._dispatch, host, port, ssl_context=(self.cert_file, key_file),
                                    url_host=LOGIN_HOST)
        self._app_holder["app"] = create_login_app(directory, self.url)

    def _dispatch(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self._app_holder["app"](environ, start_response)

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> TLSServerThread:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._tmp.cleanup()
