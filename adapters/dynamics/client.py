"""A small Dataverse Web API client: auth header, OData headers, limits, paging, error mapping.

Service protection limits (powerapps-docs api-limits.md, in ``consts``): per user, 6000 requests / 300 s,
20 min execution time / 300 s, 52 concurrent requests; exceeding any gives 429 with ``Retry-After``
(seconds). Every worker spends the request limit through the connection's shared call budget; the base
client (``adapters.client``) also honours ``Retry-After`` (short waits in place, long ones raised as
``RateLimited`` for the job layer), counts calls, and on a 401 drops the cached token and tries once with
a fresh one; we bound our own concurrency with a semaphore well under 52. The ``x-ms-ratelimit-*``
headers are "for debugging only" per the docs, so they are reported in ``usage`` but never paced on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from ..client import ApiClient, CallLimit, Gate
from ..errors import AdapterError, AuthenticationError, ConfigurationError, TransientError
from ..http import RetryPolicy, error_for_status, header, parse_retry_after
from .auth import TokenProvider
from .consts import MAX_CONCURRENT_REQUESTS, PLATFORM, REQUEST_LIMIT

DEFAULT_API_VERSION = "9.2"
DEFAULT_MAX_CONCURRENCY = 8  # per adapter instance; the platform allows 52 per user
MAX_PAGES = 100_000  # a safety bound on following @odata.nextLink
FORMATTED_VALUE_ANNOTATION = "OData.Community.Display.V1.FormattedValue"


def dataverse_message(response: requests.Response) -> str:
    """``error.code`` and ``error.message`` of a Dataverse error body, or the start of the text."""
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '')} {error.get('message', '')}".strip() or response.text[:300]
    except ValueError:
        return response.text[:300]


class WebApiClient(ApiClient):
    platform = PLATFORM
    # "for debugging only" per the docs: reported in api_usage, never paced on
    usage_headers: ClassVar[Mapping[str, str]] = {name: name for name in ("x-ms-ratelimit-burst-remaining-xrm-requests",
                                             "x-ms-ratelimit-time-remaining-xrm-requests")}

    def __init__(self, settings: Mapping[str, Any], tokens: TokenProvider,
                 session: requests.Session | None = None, gate: Gate | None = None) -> None:
        super().__init__(policy=RetryPolicy(max_attempts=int(settings.get("max_attempts") or 4),
                                            max_inline_wait=float(settings.get("max_inline_wait") or 10.0)),
                         gate=gate)
        org_url = str(settings.get("org_url") or "").rstrip("/")
        if not org_url.startswith(("https://", "http://")):
            raise ConfigurationError("Set org_url to the environment URL, e.g. https://contoso.crm.dynamics.com.",
                                     platform=PLATFORM)
        self.org_url = org_url
        self.root = f"{org_url}/api/data/v{settings.get('api_version') or DEFAULT_API_VERSION}/"
        self.tokens = tokens
        self.session = session or requests.Session()
        self.timeout = float(settings.get("timeout_seconds") or 120)
        concurrency = min(MAX_CONCURRENT_REQUESTS, int(settings.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY))
        self._slots = threading.BoundedSemaphore(max(1, concurrency))

    # -- one request -------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            # Only ever follow links back to the configured environment (nextLink, OData-EntityId).
            if urlsplit(path_or_url).netloc != urlsplit(self.root).netloc:
                raise AdapterError(f"Refusing to call {urlsplit(path_or_url).netloc}: not the configured "
                                   "Dataverse environment.", platform=PLATFORM)
            return path_or_url
        return self.root + path_or_url.lstrip("/")

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                data: bytes | None = None, headers: Mapping[str, str] | None = None,
                describe: str = "") -> requests.Response:
        describe = describe or f"{method} {path.split('?')[0][:80]}"
        return self.call(lambda: self._send(method, path, params, json, data, headers, describe))

    def call_limit(self) -> CallLimit:
        """6,000 requests per 5 minutes per user, spent by every worker through the shared budget."""
        return REQUEST_LIMIT

    def renew_credentials(self, error: AuthenticationError) -> bool:
        self.tokens.invalidate()  # a 401 with a cached token: revoked or rotated; fetch a fresh one
        return True

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, json: Any, data: bytes | None,
              headers: Mapping[str, str] | None, describe: str) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.tokens.token()}", "Accept": "application/json",
                       "OData-MaxVersion": "4.0", "OData-Version": "4.0", **(headers or {})}
        with self._slots:
            try:
                response = self.session.request(method, self.url(path), params=params, json=json, data=data,
                                                headers=all_headers, timeout=self.timeout)
            except requests.RequestException as exc:
                raise TransientError(f"Dataverse did not answer ({type(exc).__name__}); will retry.",
                                     platform=PLATFORM) from exc
        self.record_usage(response.headers)
        if response.status_code >= 400:
            raise self.error(response, describe)
        return response

    def error(self, response: requests.Response, describe: str) -> AdapterError:
        status = response.status_code
        detail = dataverse_message(response)
        if status == 401:
            return AuthenticationError(
                f"{describe}: Dataverse refused the token (401). Check that an application user exists for the "
                "app in this environment (Power Platform admin center > Environment > Settings > Application "
                "users).", status=401, platform=PLATFORM)
        if status == 403:
            detail += (" - give the application user a security role with read/write on contact and the "
                       "activity tables (and System Customizer for install).")
        if status == 429:
            detail += " - Dataverse service protection limit; waiting as Retry-After says."
        return error_for_status(status, f"{describe}: HTTP {status} {detail}", platform=PLATFORM,
                                retry_after=parse_retry_after(header(response.headers, "Retry-After")))

    # -- JSON helpers ---------------------------------------------------------------------------
    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None,
                 formatted_values: bool = False, describe: str = "") -> dict[str, Any]:
        """``formatted_values`` asks for the display text beside each value (a lookup's record name comes
        back as ``<column>@OData.Community.Display.V1.FormattedValue``) in the same request."""
        prefer = [f"odata.maxpagesize={page_size}"] if page_size else []
        if formatted_values:
            prefer.append(f'odata.include-annotations="{FORMATTED_VALUE_ANNOTATION}"')
        headers = {"Prefer": ",".join(prefer)} if prefer else None
        return dict(self.request("GET", path, params=params, headers=headers, describe=describe).json())

    def rows(self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 500,
             formatted_values: bool = False, describe: str = "") -> Iterator[dict[str, Any]]:
        """Every row of a query, following ``@odata.nextLink`` (which already carries the query)."""
        body = self.get_json(path, params, page_size=page_size, formatted_values=formatted_values, describe=describe)
        for _ in range(MAX_PAGES):
            yield from body.get("value", [])
            link = body.get("@odata.nextLink")
            if not link:
                return
            body = self.get_json(link, page_size=page_size, formatted_values=formatted_values, describe=describe)
        raise AdapterError(f"{describe}: more than {MAX_PAGES} pages; refusing to continue.", platform=PLATFORM)
