"""One authenticated simple-salesforce client under the base client's rules (``adapters.client``):
typed errors, one re-login on an expired session, API usage tracking and a daily budget. Calls are
not retried in place (policy of one attempt): failures go to the job layer, which backs off.

simple-salesforce builds ``https://<host>`` URLs from the instance host. We construct it from
the session (``session_id`` + ``instance_url``) and then set its URL family from the
instance URL's own scheme, so production (https) is byte-for-byte what simple-salesforce
computes and the local sandbox (http on 127.0.0.1, allowed by ``adapters.endpoints`` only
for loopback hosts) goes through the very same code. Paging uses the query locator form of
``query_more`` for the same reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from ..base import ConnectionInfo
from ..client import ApiClient, CallLimit
from ..errors import (
    AdapterError,
    AuthenticationError,
    BudgetExhausted,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ..http import RetryPolicy, error_for_status
from .auth import SalesforceSession, api_version, endpoint_policy, login
from .consts import CALL_OPTIONS, DAILY_ALLOCATION, PLATFORM

T = TypeVar("T")
MAX_QUERY_PAGES = 1000  # 2,000 rows a page: two million rows is far beyond one contact's history
DEFAULT_BUDGET_SHARE = 0.8


@dataclass
class ApiUsage:
    used: int | None = None
    limit: int | None = None


# Last usage seen per org, shared by every adapter in the process: the header reports the
# org-wide rolling 24 h count, so any recent call's figure is the best estimate we have.
_USAGE: dict[str, ApiUsage] = {}
_USAGE_LOCK = threading.Lock()


def budget_ceiling(setting: Any, limit: int | None) -> int | None:
    """The highest org-wide usage we allow ourselves: an absolute number, 'NN%' of the limit,
    or by default 80 % of the org's allocation (the rest stays for the org's other integrations)."""
    if setting is None or setting == "":
        return int(limit * DEFAULT_BUDGET_SHARE) if limit else None
    text = str(setting).strip()
    try:
        if text.endswith("%"):
            return int(limit * float(text[:-1]) / 100) if limit else None
        return int(float(text))
    except ValueError:
        raise ConfigurationError(f"Setting 'daily_api_budget' must be a number or a percentage like '80%' "
                                 f"(got '{setting}').", platform=PLATFORM) from None


class SalesforceClient(ApiClient):
    platform = PLATFORM

    def __init__(self, connection: ConnectionInfo, http: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(policy=RetryPolicy(max_attempts=1), sleep=sleep, gate=connection.call_gate)
        self.connection = connection
        self.settings: Mapping[str, Any] = connection.settings
        self.version = api_version(self.settings)
        self.endpoints = endpoint_policy(self.settings, getattr(connection, "production", False))
        self.http = http or requests.Session()
        self.session: SalesforceSession | None = None
        self._sf: Salesforce | None = None

    # -- session ------------------------------------------------------------------------------
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._connect(login(self.settings, self.connection.credentials, self.http, self.endpoints))
        assert self._sf is not None
        return self._sf

    def _connect(self, session: SalesforceSession) -> None:
        self.session = session
        client = Salesforce(session_id=session.access_token, instance_url=session.instance_url,
                            version=self.version, session=self.http)
        base = session.instance_url
        client.base_url = f"{base}/services/data/v{self.version}/"
        client.apex_url = f"{base}/services/apexrest/"
        client.bulk_url = f"{base}/services/async/{self.version}/"
        client.bulk2_url = f"{base}/services/data/v{self.version}/jobs/"
        client.metadata_url = f"{base}/services/Soap/m/{self.version}/"
        client.tooling_url = f"{client.base_url}tooling/"
        client.oauth2_url = f"{base}/services/oauth2/"
        self._sf = client

    def renew_credentials(self, error: AuthenticationError) -> bool:
        """The session expired or was revoked: log in again once, when we hold what a login needs."""
        if self._sf is None or self.settings.get("auth") == "session" or not (
                self.connection.credentials.get("private_key") or self.connection.credentials.get("password")):
            return False
        self._sf = None
        return True

    def prepare(self) -> None:
        self._check_budget()

    def call_limit(self) -> CallLimit | None:
        """The connector's share of the org's rolling 24 h allocation, spent by every worker through the
        shared budget; ``_check_budget`` adds the org-wide count (other apps). A share needs the org's total,
        which the first response reports: until then the call goes ungated, because a guess below the real
        allocation would starve a new worker while the others spend the rest."""
        ceiling = budget_ceiling(self.settings.get("daily_api_budget"), self.org_usage().limit)
        return CallLimit(ceiling, DAILY_ALLOCATION.window, DAILY_ALLOCATION.name) if ceiling else None

    def counting_window(self) -> float:
        return DAILY_ALLOCATION.window

    # -- calls --------------------------------------------------------------------------------
    def run(self, operation: Callable[[Salesforce], T], describe: str) -> T:
        """Run one API call (``operation`` on the simple-salesforce client) with the base client's rules."""
        def send() -> T:
            client = self.sf()
            try:
                result = operation(client)
            except SalesforceError as error:
                self._record_usage(client)
                raise map_error(error, describe) from error
            except requests.RequestException as error:
                raise TransientError(f"{describe}: network error talking to Salesforce ({type(error).__name__}).",
                                     platform=PLATFORM) from error
            self._record_usage(client)
            return result
        return self.call(send)

    def query(self, soql: str, *, tooling: bool = False) -> list[dict[str, Any]]:
        """Every row of a SOQL query, following ``nextRecordsUrl`` (bounded)."""
        if tooling:
            page = self.run(lambda sf: sf.toolingexecute("query/", params={"q": soql}), "Tooling query")
        else:
            page = self.run(lambda sf: sf.query(soql), "SOQL query")
        records = list(page.get("records", []))
        for _ in range(MAX_QUERY_PAGES):
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return records
            locator = next_url.rstrip("/").rsplit("/", 1)[-1]
            if tooling:
                page = self.run(lambda sf, loc=locator: sf.toolingexecute(f"query/{loc}"), "Tooling query (next page)")
            else:
                page = self.run(lambda sf, loc=locator: sf.query_more(loc), "SOQL query (next page)")
            records.extend(page.get("records", []))
        raise InvalidRequest(f"Query returned more than {MAX_QUERY_PAGES} pages; narrow it.", platform=PLATFORM)

    def rest(self, path: str, *, method: str = "GET", json: Any = None, describe: str = "") -> Any:
        headers = {"Sforce-Call-Options": CALL_OPTIONS}
        return self.run(lambda sf: sf.restful(path, method=method, json=json, headers=headers),
                         describe or f"{method} {path}")

    def tooling(self, path: str, *, method: str = "GET", data: Any = None, describe: str = "") -> Any:
        return self.run(lambda sf: sf.toolingexecute(path, method=method, data=data), describe or f"Tooling {path}")

    # -- usage and budget ---------------------------------------------------------------------
    @property
    def _usage_key(self) -> str | None:
        # per org endpoint: the instance serves one org; before the first login nothing is known
        return self.session.instance_url if self.session else None

    def _record_usage(self, client: Salesforce) -> None:
        usage = client.api_usage.get("api-usage")
        if usage is None or self._usage_key is None:
            return
        with _USAGE_LOCK:
            _USAGE[self._usage_key] = ApiUsage(int(usage.used), int(usage.total))  # type: ignore[union-attr]

    def org_usage(self) -> ApiUsage:
        with _USAGE_LOCK:
            return _USAGE.get(self._usage_key, ApiUsage()) if self._usage_key else ApiUsage()

    def _check_budget(self, cost: int = 1) -> None:
        usage = self.org_usage()
        ceiling = budget_ceiling(self.settings.get("daily_api_budget"), usage.limit)
        if usage.used is not None and ceiling is not None and usage.used + cost > ceiling:
            raise BudgetExhausted(
                f"The Salesforce org has used {usage.used} of {usage.limit} API requests in the last 24 h and the "
                f"connector's budget stops at {ceiling}. Work resumes as usage rolls off; raise "
                "'daily_api_budget' to allow more.", retry_after=3600.0, platform=PLATFORM)


def _first_error(error: SalesforceError) -> tuple[str, str]:
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode") or content.get("error") or ""), str(content.get("message") or "")
    return "", str(content)[:300]


def map_error(error: SalesforceError, describe: str) -> AdapterError:
    """simple-salesforce's exception -> ``adapters.errors``, with a message an admin can act on;
    the Salesforce ``errorCode`` stays on the result as ``sf_code``."""
    code, _ = _first_error(error)
    mapped = _map_error(error, describe)
    mapped.sf_code = code  # type: ignore[attr-defined]
    return mapped


def _map_error(error: SalesforceError, describe: str) -> AdapterError:
    status = int(error.status or 0)
    code, message = _first_error(error)
    text = f"{describe}: {code or 'HTTP ' + str(status)}: {message}".strip()
    if code == "REQUEST_LIMIT_EXCEEDED":
        daily = "TotalRequests" in message
        return RateLimited(f"{text} - the org's {'daily API allocation' if daily else 'concurrent request limit'} "
                           "is used up.", retry_after=3600.0 if daily else 30.0, status=status, platform=PLATFORM)
    if status == 401:
        return AuthenticationError(f"{text} - the session expired or was revoked; reconnect the org.",
                                   status=status, platform=PLATFORM)
    if code in ("INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE"):
        return ConfigurationError(f"{text} - run 'cem-connector install salesforce' and make sure the integration "
                                  "user holds the CEM Connector permission set.", status=status, platform=PLATFORM)
    if code in ("API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED", "INSUFFICIENT_ACCESS"):
        return PermissionDenied(f"{text} - the integration user needs the 'API Enabled' permission and access to "
                                "the objects it reads.", status=status, platform=PLATFORM)
    if code in ("NOT_FOUND", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"):
        return NotFound(text, status=status, platform=PLATFORM)
    return error_for_status(status, text, platform=PLATFORM)
