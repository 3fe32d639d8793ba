"""HubSpot OAuth 2.0 (authorization-code flow) and the SDK client factory.

* Authorize: ``https://app.hubspot.com/oauth/authorize?client_id&redirect_uri&scope&optional_scope&state``
  (scopes space-separated; same encoding as ``hubspot.utils.oauth.get_auth_url``, which
  cannot take a ``state``-less call to be an error nor another host, hence our own builder).
* Tokens: form-encoded ``POST {api}/oauth/v1/token`` with ``grant_type=authorization_code|refresh_token``
  through the SDK's ``oauth.tokens_api``; access tokens live ``expires_in`` seconds (30 min today),
  so credentials store ``expires_at`` (epoch seconds) and are refreshed a minute early.

Every SDK client is built with ``host=api_base_url`` (sets ``Configuration.host`` of each generated
package, OAuth included) and ``base_url=api_base_url`` (read by ``client.api_request``), so a sandbox
can stand in for api.hubapi.com without touching anything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from hubspot import HubSpot
from urllib3.util.retry import Retry

from ..endpoints import EndpointPolicy
from ..errors import AdapterError, AuthenticationError, ConfigurationError
from . import errors
from .consts import PLATFORM

DEFAULT_API_BASE_URL = "https://api.hubapi.com"
# api.hubapi.com (and regional api-eu1.hubapi.com), app.hubspot.com for the consent page
VENDOR_DOMAINS = ("hubapi.com", "hubspot.com")
AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
REFRESH_MARGIN_SECONDS = 60.0
# What the connector needs: read contacts and their engagements, write and define contact properties.
REQUIRED_SCOPES = ("crm.objects.contacts.read", "crm.objects.contacts.write", "crm.schemas.contacts.read",
                   "crm.schemas.contacts.write", "crm.objects.deals.read", "tickets")
# Useful when granted: email bodies, chat threads, owner names for the journey map.
OPTIONAL_SCOPES = ("sales-email-read", "conversations.read", "crm.objects.owners.read")
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds for every SDK call

# Only connection-level retries inside urllib3 (the request never reached HubSpot, so safe even for
# POST); statuses and read errors go to adapters.http.call_with_retry where Retry-After is honoured.
TRANSPORT_RETRY = Retry(total=2, connect=2, read=0, status=0, redirect=0, other=0, raise_on_status=False)


def endpoint_policy(settings: Mapping[str, Any], production: bool = False) -> EndpointPolicy:
    """Where this connection may send its token (see ``adapters.endpoints``)."""
    return EndpointPolicy.of("hubspot", "HubSpot", VENDOR_DOMAINS, settings, production)


def make_client(api_base_url: str = DEFAULT_API_BASE_URL, access_token: str | None = None) -> HubSpot:
    base = api_base_url.rstrip("/")
    return HubSpot(access_token=access_token, retry=TRANSPORT_RETRY, host=base, base_url=base)


def authorize_url(*, client_id: str, redirect_uri: str, scopes: Iterable[str], state: str,
                  optional_scopes: Iterable[str] = (), authorize_base: str = AUTHORIZE_URL) -> str:
    """The URL to send the installing admin to; ``state`` (CSRF token) is mandatory."""
    if not state:
        raise ConfigurationError("OAuth state is required to protect the callback against CSRF.", platform=PLATFORM)
    params = {"client_id": client_id, "redirect_uri": redirect_uri}
    scope_list = [s for s in scopes if s]
    if scope_list:
        params["scope"] = " ".join(scope_list)
    optional = [s for s in optional_scopes if s]
    if optional:
        params["optional_scope"] = " ".join(optional)
    params["state"] = state
    return f"{authorize_base}?{urlencode(params, safe='', quote_via=quote)}"


def token_credentials(payload: Mapping[str, Any], *, now: float, client_id: str, client_secret: str,
                      previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Credentials to store from a token response (keeps the old refresh token if none came back)."""
    access_token = payload.get("access_token")
    if not access_token:
        raise AuthenticationError("HubSpot token response had no access_token.", platform=PLATFORM)
    expires_in = float(payload.get("expires_in") or 1800)
    refresh_token = payload.get("refresh_token") or (previous or {}).get("refresh_token")
    return {
        **dict(previous or {}),
        "access_token": access_token, "refresh_token": refresh_token, "token_type": payload.get("token_type"),
        "expires_at": now + expires_in, "client_id": client_id, "client_secret": client_secret,
    }


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str,
                  api_base_url: str = DEFAULT_API_BASE_URL, clock: Callable[[], float] = time.time,
                  timeout: Any = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Authorization code -> credentials (access_token, refresh_token, expires_at, client id/secret)."""
    payload = _token_request(api_base_url, timeout, "exchanging the authorization code",
                             grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
                             client_id=client_id, client_secret=client_secret)
    return token_credentials(payload, now=clock(), client_id=client_id, client_secret=client_secret)


def refresh(credentials: Mapping[str, Any], *, api_base_url: str = DEFAULT_API_BASE_URL,
            clock: Callable[[], float] = time.time, timeout: Any = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """New credentials from the stored refresh token."""
    refresh_token = credentials.get("refresh_token")
    client_id, client_secret = credentials.get("client_id"), credentials.get("client_secret")
    if not (refresh_token and client_id and client_secret):
        raise AuthenticationError("HubSpot access token expired and no refresh token/client credentials are stored; "
                                  "reconnect HubSpot.", platform=PLATFORM)
    payload = _token_request(api_base_url, timeout, "refreshing the access token", grant_type="refresh_token",
                             refresh_token=refresh_token, client_id=client_id, client_secret=client_secret)
    return token_credentials(payload, now=clock(), client_id=str(client_id), client_secret=str(client_secret),
                             previous=credentials)


def needs_refresh(credentials: Mapping[str, Any], now: float, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
    expires_at = credentials.get("expires_at")
    if expires_at in (None, "") or not credentials.get("refresh_token"):
        return False  # static private-app token, or no way to refresh anyway
    return float(expires_at) - margin <= now


def _token_request(api_base_url: str, timeout: Any, action: str, **form: Any) -> dict[str, Any]:
    api = make_client(api_base_url).oauth.tokens_api
    try:
        _, raw = errors.call_raw(
            lambda: api.create_with_http_info(**form, _preload_content=False, _request_timeout=timeout), action)
        data = json.loads(raw or b"{}")
    except AdapterError as error:
        if error.status == 400:
            # BAD_REFRESH_TOKEN / BAD_AUTH_CODE / invalid_grant: only a new consent helps
            raise AuthenticationError(f"{error} Reconnect HubSpot to grant access again.", status=400,
                                      platform=PLATFORM) from error
        raise
    if not isinstance(data, dict):
        raise AdapterError(f"HubSpot answered {action} with an unexpected body.", platform=PLATFORM)
    return data
