"""A fault switch in front of a sandbox CRM's API: throttle, fail or slow the next calls.

It answers exactly as each CRM answers when it throttles or breaks (status, headers and error
body shape, from shared/reference/crm-apis.md and the sandboxes):
- HubSpot: 429 ``{"status":"error","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"...}``
  with ``Retry-After``; 5xx ``{"status":"error","category":"INTERNAL_ERROR"...}``.
- Salesforce: no 429; the throttle is 403 ``[{"errorCode":"REQUEST_LIMIT_EXCEEDED"...}]`` (concurrent
  request limit); outages are 503 ``SERVER_UNAVAILABLE``.
- Dataverse: 429 ``{"error":{"code":"0x80072322",...}}`` with ``Retry-After``; 5xx ``{"error":{...}}``.
Login / token endpoints are never touched: the scenarios break the data API, not authentication.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

API_PREFIXES = {"hubspot": ("/crm/",), "salesforce": ("/services/data/",), "dynamics": ("/api/data/",)}
# The calls that write CEM values onto contacts (batch endpoints, as the adapters use them).
WRITE_CALLS = {"hubspot": ("POST", "/crm/v3/objects/contacts/batch/update"),
               "salesforce": ("PATCH", "/composite/sobjects"), "dynamics": ("POST", "/$batch")}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Answer:
    at: float
    status: int
    retry_after: float | None


@dataclass
class FaultInjector:
    platform: str
    latency: float = 0.0  # seconds added to every API call
    write_latency: float = 0.0  # seconds added to CEM write calls only
    faults: list[tuple[int, float | None]] = field(default_factory=list)
    down: int | None = None  # answer every API call (or every write call) with this status until cleared
    down_writes_only: bool = False
    answers: list[Answer] = field(default_factory=list)  # injected answers, in order
    api_calls: list[float] = field(default_factory=list)  # monotonic time of every API call that got through

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.write_started = threading.Event()  # set when a CEM write call reaches the CRM
        self._slow_once: list[tuple[str, float]] = []  # (fragment of path + query, seconds)
        self.slowed = threading.Event()  # set when a slow_once call starts waiting

    def is_write(self, method: str, path: str) -> bool:
        want_method, fragment = WRITE_CALLS[self.platform]
        return method == want_method and fragment in path

    # -- switches --------------------------------------------------------------------------------
    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        with self._lock:
            self.faults.extend([(status, retry_after)] * n)

    def slow_once(self, fragment: str, seconds: float) -> None:
        """The next API call whose path or query string contains ``fragment`` answers ``seconds`` late."""
        with self._lock:
            self._slow_once.append((fragment, seconds))

    def set_down(self, status: int | None, *, writes_only: bool = False) -> None:
        with self._lock:
            self.down = status
            self.down_writes_only = writes_only

    def throttle_status(self) -> int:
        return 403 if self.platform == "salesforce" else 429

    # -- the middleware ------------------------------------------------------------------------------
    def wrap(self, app: WSGIApp) -> WSGIApp:
        prefixes = API_PREFIXES[self.platform]

        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if not path.startswith(prefixes):
                return app(environ, start_response)
            target = f"{path}?{environ.get('QUERY_STRING', '')}"
            with self._lock:
                rule = next((r for r in self._slow_once if r[0] in target), None)
                if rule is not None:
                    self._slow_once.remove(rule)
            if rule is not None:
                self.slowed.set()
                time.sleep(rule[1])
            writing = self.is_write(environ.get("REQUEST_METHOD", ""), path)
            if writing:
                self.write_started.set()
                if self.write_latency:
                    time.sleep(self.write_latency)
            if self.latency:
                time.sleep(self.latency)
            with self._lock:
                down = self.down if self.down and (writing or not self.down_writes_only) else None
                fault = self.faults.pop(0) if self.faults else ((down, None) if down else None)
                if fault is None:
                    self.api_calls.append(time.monotonic())
                else:
                    self.answers.append(Answer(time.monotonic(), fault[0], fault[1]))
            if fault is None:
                return app(environ, start_response)
            status, retry_after = fault
            body, headers = self._error(status, retry_after)
            start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
            return [body]

        return middleware

    def _error(self, status: int, retry_after: float | None) -> tuple[bytes, list[tuple[str, str]]]:
        headers = [("Content-Type", "application/json;charset=utf-8")]
        if retry_after is not None:
            headers.append(("Retry-After", str(int(retry_after))))
        if self.platform == "hubspot":
            if status == 429:
                payload: Any = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                "errorType": "RATE_LIMIT", "correlationId": "fault-injected",
                                "policyName": "TEN_SECONDLY_ROLLING", "requestId": "fault-injected"}
            else:
                payload = {"status": "error", "message": "The server encountered an error; try again.",
                           "correlationId": "fault-injected", "category": "INTERNAL_ERROR"}
        elif self.platform == "salesforce":
            if status == 403:
                payload = [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                            "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
            else:
                payload = [{"message": "Server is temporarily unavailable.", "errorCode": "SERVER_UNAVAILABLE"}]
        elif status == 429:
            payload = {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit of 6000 "
                                                                  "over time window of 300 seconds."}}
        else:
            payload = {"error": {"code": "0x80040216", "message": "An unexpected error occurred."}}
        return json.dumps(payload).encode(), headers

    # -- what happened ---------------------------------------------------------------------------------
    def shortest_wait_after_throttle(self) -> float | None:
        """The shortest gap between a throttled answer carrying Retry-After and the next API request
        of any kind (how well the connector honoured Retry-After); None when nothing was throttled."""
        with self._lock:
            throttles = [a for a in self.answers if a.retry_after is not None]
            requests = sorted([*self.api_calls, *(a.at for a in self.answers)])
        gaps = []
        for answer in throttles:
            later = [t for t in requests if t > answer.at]
            if later:
                gaps.append(later[0] - answer.at)
        return min(gaps) if gaps else None


_REASONS = {403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}
