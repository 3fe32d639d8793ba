"""The HubSpot API client: hubspot-api-client calls under the base client's rules.

Responses are read raw (``_preload_content=False``) so we see status (200 vs 207), the rate-limit
headers and the exact JSON the API sent. Pacing follows the ``X-HubSpot-RateLimit-*`` headers: the
shared call budget (``adapters.client``) paces on the reported burst limit, an empty day stops calls.
OAuth access tokens are refreshed a minute before they expire, and once more when HubSpot answers
401 ``EXPIRED_AUTHENTICATION``; the new credentials go to the connector to persist.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import requests

from ..base import ConnectionInfo
from ..client import ApiClient, CallLimit
from ..errors import AuthenticationError, ConfigurationError, RateLimited, TransientError
from ..http import RetryPolicy, error_from_response
from . import auth, errors
from .consts import BURST_LIMIT, PLATFORM

PRIVATE_APP_TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
MAX_TRACKED_CALLS = 1000  # more than any burst limit (250 / 10 s with the add-on)
RATE_HEADERS = {
    "limit": "X-HubSpot-RateLimit-Max", "remaining": "X-HubSpot-RateLimit-Remaining",
    "interval_ms": "X-HubSpot-RateLimit-Interval-Milliseconds", "daily": "X-HubSpot-RateLimit-Daily",
    "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
}


class HubSpotClient(ApiClient):
    platform = PLATFORM
    usage_headers = RATE_HEADERS

    def __init__(self, connection: ConnectionInfo, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, policy: RetryPolicy | None = None,
                 timeout: Any = auth.DEFAULT_TIMEOUT) -> None:
        super().__init__(policy=policy, sleep=sleep, clock=clock, gate=connection.call_gate)
        self.connection = connection
        self.base_url = auth.endpoint_policy(connection.settings, getattr(connection, "production", False)).check(
            connection.settings.get("api_base_url") or auth.DEFAULT_API_BASE_URL, "api_base_url")
        self.credentials: dict[str, Any] = dict(connection.credentials)
        if not self.credentials.get("access_token"):
            raise ConfigurationError("HubSpot connection has no access_token (private app token or OAuth).",
                                     platform=PLATFORM)
        self.timeout = timeout
        self.sdk = auth.make_client(self.base_url, self.credentials["access_token"])
        self._apis: dict[str, Any] = {}
        self._sent: deque[float] = deque(maxlen=MAX_TRACKED_CALLS)  # when our recent calls went out

    # -- credentials ---------------------------------------------------------------------------
    def _api(self, path: str) -> Any:
        """An SDK API object, built once: each discovery access would open a new connection pool."""
        if path not in self._apis:
            target: Any = self.sdk
            for part in path.split("."):
                target = getattr(target, part)
            self._apis[path] = target
        return self._apis[path]

    def _use_token(self, token: str) -> None:
        self.sdk.access_token = token
        for api in self._apis.values():
            api.api_client.configuration.access_token = token

    def refresh_token(self) -> None:
        """Refresh the OAuth access token and hand the new credentials to the connector."""
        self.credentials = auth.refresh(self.credentials, api_base_url=self.base_url, clock=self.clock,
                                        timeout=self.timeout)
        self._use_token(self.credentials["access_token"])
        if self.connection.on_credentials_changed is not None:
            self.connection.on_credentials_changed(dict(self.credentials))

    def refresh_if_due(self) -> None:
        if auth.needs_refresh(self.credentials, self.clock()):
            self.refresh_token()

    def renew_credentials(self, error: AuthenticationError) -> bool:
        if not errors.is_expired_token(error) or not self.credentials.get("refresh_token"):
            return False
        self.refresh_token()
        return True

    def prepare(self) -> None:
        self.refresh_if_due()
        if self.usage.get("daily_remaining") == 0:
            raise RateLimited("HubSpot daily API limit is used up; it resets at midnight in the account's time zone.",
                              retry_after=3600.0, status=429, platform=PLATFORM)
        if self.gate is None or self.call_limit() is None:
            self._pace_locally()

    def call_limit(self) -> CallLimit | None:
        """The burst limit HubSpot reports for this app and account (the headers). Before a process's first
        response it is unknown: that call goes ungated, because gating it at the published floor (100) would
        starve a new worker while the others spend a Professional account's 190."""
        reported = int(self.usage.get("limit") or 0)
        if not reported:
            return None
        return CallLimit(reported, self.counting_window(), BURST_LIMIT.name)

    def counting_window(self) -> float:
        return (self.usage.get("interval_ms") or BURST_LIMIT.window * 1000) / 1000.0

    def _pace_locally(self) -> None:
        """Without the shared budget (one-off clients): pace on our own calls and the last reported usage.

        The window rolls: a slot frees when the oldest call in it is ten seconds old, not ten
        seconds after the window filled. Waiting a whole interval whenever the last response said
        "0 remaining" left the budget idle a third of the time at HubSpot's limit (bench.budget).
        """
        interval = (self.usage.get("interval_ms") or 10_000) / 1000.0
        limit = int(self.usage.get("limit") or 0)
        now = self.clock()
        recent = [t for t in self._sent if now - t < interval]
        wait = 0.0
        if self.usage.get("remaining") == 0:
            # full: our oldest call in the window frees the next slot (other apps' calls show up as a 429)
            wait = (recent[0] if recent else float(self.usage.get("observed_at") or now)) + interval - now
        elif limit and len(recent) >= limit:
            wait = recent[-limit] + interval - now  # our own count says full before the server does
        if wait > self.policy.max_inline_wait:
            raise RateLimited("HubSpot burst limit reached.", retry_after=wait, status=429, platform=PLATFORM)
        if wait > 0:
            self.sleep(wait)
        self.usage["remaining"] = None
        self._sent.append(self.clock())

    # -- calls ---------------------------------------------------------------------------------
    def request(self, action: str, api: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """One SDK call (``api`` is the dotted path of the SDK API object) -> (status, JSON body)."""
        return self.call(lambda: self._sdk_call(action, api, method, args, kwargs))

    def _sdk_call(self, action: str, api: str, method: str, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        call = getattr(self._api(api), f"{method}_with_http_info")
        response, raw = errors.call_raw(
            lambda: call(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs), action,
            on_error_headers=self.record_usage)
        self.record_usage(response.headers)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError as error:
            raise TransientError(f"HubSpot sent a non-JSON answer while {action}.", status=response.status,
                                 platform=PLATFORM) from error
        return response.status, data if isinstance(data, dict) else {"results": data}

    def private_app_info(self, token: str) -> dict[str, Any]:
        """Private-app token info through ``client.api_request`` (the SDK has no wrapper for it)."""
        def send() -> dict[str, Any]:
            try:
                response = self.sdk.api_request({"method": "POST", "path": PRIVATE_APP_TOKEN_INFO_PATH,
                                                 "body": {"tokenKey": token}})
            except requests.RequestException as error:
                raise errors.from_transport_error(error, "reading the private app token info") from error
            self.record_usage(response.headers)
            if response.status_code >= 400:
                raise error_from_response(response, platform=PLATFORM,
                                          describe="HubSpot refused reading the private app token info")
            data = response.json()
            return data if isinstance(data, dict) else {}
        return self.call(send)
