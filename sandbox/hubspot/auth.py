"""Bearer-token auth as HubSpot does it: one static private-app token plus OAuth 2.0
tokens issued by ``POST /oauth/v1/token`` (authorization_code and refresh_token grants).

Facts used (crm-apis.md §1.7, hubspot-api-python ``oauth`` models): token responses are
``{access_token, refresh_token, expires_in, token_type: "bearer"}``; access tokens live
30 minutes (``expires_in`` 1800); token info (``GET /oauth/v1/access-tokens/{token}``) has
``token, user, hub_domain, scopes, hub_id, app_id, expires_in, user_id, token_type``.
OAuth error bodies ``{"status": "BAD_AUTH_CODE" | "BAD_REFRESH_TOKEN" | ..., "message"}``
follow HubSpot's documented OAuth errors (status names unverified beyond those two).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.schemas.contacts.read",
                  "crm.schemas.contacts.write", "crm.objects.deals.read", "tickets", "sales-email-read")


@dataclass
class AccessToken:
    value: str
    kind: str  # "private" | "oauth"
    expires_at: float | None  # epoch seconds; None never expires (private apps)


class AuthFailure(Exception):
    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category = category
        self.message = message


class TokenRegistry:
    def __init__(self, *, portal_id: int, app_id: int, client_id: str, client_secret: str, private_token: str,
                 token_ttl: int = 1800, user: str = "sandbox.admin@example.com", user_id: int = 7001,
                 clock: Callable[[], float] = time.time) -> None:
        self.portal_id, self.app_id = portal_id, app_id
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl = token_ttl
        self.user, self.user_id = user, user_id
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {private_token: AccessToken(private_token, "private", None)}
        self._codes: dict[str, str] = {}  # auth code -> redirect_uri it was issued for
        self._refresh: set[str] = set()

    # -- consent screen stand-in ------------------------------------------------------------------------------
    def issue_code(self, redirect_uri: str) -> str:
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = redirect_uri
        return code

    # -- POST /oauth/v1/token -----------------------------------------------------------------------------------
    def exchange(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            return 400, {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}
        if not secrets.compare_digest(form.get("client_secret", ""), self.client_secret):
            return 400, {"status": "BAD_CLIENT_SECRET", "message": "missing or invalid client secret"}
        with self._lock:
            if grant == "authorization_code":
                issued_for = self._codes.pop(form.get("code", ""), None)
                if issued_for is None:
                    return 400, {"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code"}
                if form.get("redirect_uri") != issued_for:
                    return 400, {"status": "BAD_REDIRECT_URI", "message": "redirect_uri does not match the one "
                                                                          "used to get the auth code"}
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self._refresh:
                    return 400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}
            else:
                return 400, {"status": "BAD_GRANT_TYPE", "message": "grant_type must be authorization_code or "
                                                                    "refresh_token"}
            access = "sbx-" + secrets.token_urlsafe(24)
            self._tokens[access] = AccessToken(access, "oauth", self._clock() + self.token_ttl)
            refresh = form.get("refresh_token") or secrets.token_hex(18)  # HubSpot keeps the refresh token
            self._refresh.add(refresh)
        return 200, {"access_token": access, "refresh_token": refresh, "expires_in": self.token_ttl,
                     "token_type": "bearer"}

    # -- request auth ---------------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> AccessToken:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthFailure("INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports "
                              "OAuth 2.0 authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        value = authorization[len("Bearer "):].strip()
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise AuthFailure("INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports "
                              "OAuth 2.0 authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        if token.expires_at is not None and self._clock() >= token.expires_at:
            minutes = int((self._clock() - token.expires_at) // 60)
            raise AuthFailure("EXPIRED_AUTHENTICATION",
                              f"The OAuth token used to make this call expired {minutes} minute(s) ago.")
        return token

    def expire_oauth_tokens(self) -> None:
        """Test helper: make every issued OAuth access token expired now."""
        with self._lock:
            for token in self._tokens.values():
                if token.kind == "oauth":
                    token.expires_at = self._clock() - 1

    def info(self, value: str) -> dict[str, Any] | None:
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return None
        remaining = 0 if token.expires_at is None else max(0, int(token.expires_at - self._clock()))
        return {"token": value, "user": self.user, "hub_domain": f"sandbox-{self.portal_id}.hubspot.test",
                "scopes": list(DEFAULT_SCOPES), "hub_id": self.portal_id, "app_id": self.app_id,
                "expires_in": remaining, "user_id": self.user_id, "token_type": "access"}
