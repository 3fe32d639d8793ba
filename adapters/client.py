"""The base API client every CRM's client builds on (after django-anymail's ``base_requests`` backend).

One place owns what happens around a call, so the three CRMs cannot drift apart:

- **counting**: every request sent is counted (``calls``), thread-safely;
- **usage headers**: the limits a CRM reports per response (``usage_headers``) are kept in ``usage``;
- **pacing**: ``prepare()`` runs before each try (refuse a spent daily budget, refresh a token that is
  about to expire); then every try takes a slot of the connection's **shared call budget** (``gate``: a
  rolling window in Redis that every worker process spends, ``connector.queue.budget``) under the
  platform's published limit (``call_limit()``, from ``adapters/<crm>/consts.py``), waiting when the
  window is full, so workers spend the budget to the last call and never past it, on every CRM;
- **expired credentials**: an ``AuthenticationError`` gets one ``renew_credentials()`` (new token,
  new session) and one more send; a second refusal is the admin's to fix;
- **retries**: retryable errors with short waits are retried in place (``adapters.http.call_with_retry``),
  long ones go to the job layer with ``retry_after``.

A platform's client supplies the transport: ``call(send)`` runs ``send`` (one request, mapped to
``adapters.errors``) under those rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .errors import AuthenticationError, RateLimited
from .http import RetryPolicy, call_with_retry, header

T = TypeVar("T")
# ``gate(calls, window)``: 0 when a call may go now (and it is counted), else seconds until the
# connection's rolling window has room (``ConnectionInfo.call_gate``).
Gate = Callable[[int, float], float]
UNGATED = 2**31  # a limit no window reaches: the gate counts the call and never refuses it
MAX_GATE_WAITS = 50  # bound on waiting for the shared window before handing the wait to the job layer


@dataclass(frozen=True)
class CallLimit:
    """A vendor's published request limit: at most ``calls`` requests in any ``window`` seconds (sliding)."""

    calls: int
    window: float
    name: str  # for messages: "burst limit", "service protection limit" ...


class ApiClient:
    platform: ClassVar[str]
    usage_headers: ClassVar[Mapping[str, str]] = {}  # usage key -> the response header that reports it

    def __init__(self, *, policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, gate: Gate | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self.sleep, self.clock = sleep, clock
        self.gate = gate  # None (one-off clients: connect, tests): the CRM's own 429s pace us
        self.calls = 0
        self.usage: dict[str, Any] = {}
        self._count_lock = threading.Lock()

    # -- what a platform may override ----------------------------------------------------------
    def prepare(self) -> None:
        """Before each try: pace on the last reported usage, refresh credentials about to expire."""

    def renew_credentials(self, error: AuthenticationError) -> bool:
        """The CRM refused the credentials: renew them if that can help; False re-raises ``error``."""
        return False

    def call_limit(self) -> CallLimit | None:
        """The published limit the shared budget paces on (the platform's consts, or what the CRM reports)."""
        return None

    def counting_window(self) -> float | None:
        """While ``call_limit()`` is unknown (before a process's first response): the window the limit will
        have, so that the call, ungated, is still counted in the shared window (None: not counted)."""
        return None

    # -- the rules around every call -----------------------------------------------------------
    def call(self, send: Callable[[], T]) -> T:
        """Run one request (``send``) with pacing, counting, one credential renewal and bounded retries."""
        renewed = False

        def attempt() -> T:
            nonlocal renewed
            try:
                return self._paced_send(send)
            except AuthenticationError as error:
                if renewed or not self.renew_credentials(error):
                    raise
                renewed = True
                return self._paced_send(send)

        return call_with_retry(attempt, policy=self.policy, sleep=self.sleep)

    def _paced_send(self, send: Callable[[], T]) -> T:
        self.prepare()
        self._take_budget()
        with self._count_lock:
            self.calls += 1
        return send()

    def _take_budget(self) -> None:
        """Wait for a slot in the connection's rolling window, shared with every other worker process.

        Short waits are slept here; a wait past ``max_inline_wait`` goes to the job layer as ``RateLimited``
        (the job is retried then), so a worker is never parked for long on one connection.
        """
        if self.gate is None:
            return
        limit = self.call_limit()
        if limit is None:
            # Ungated, but counted: the CRM counts it, so the others' gate must too. Uncounted, the first
            # calls of a new process (the CLI's, a fresh worker's 4 parallel reads) let the shared window
            # admit calls the CRM then refused with 429 (bench.backfill: 2 of every window's first calls).
            window = self.counting_window()
            if window is not None:
                self.gate(UNGATED, window)
            return
        wait = 0.0
        for _ in range(MAX_GATE_WAITS):
            wait = self.gate(limit.calls, limit.window)
            if wait <= 0:
                return
            if wait > self.policy.max_inline_wait:
                break
            self.sleep(wait)
        raise RateLimited(f"The connection's {self.platform} {limit.name} ({limit.calls:,} calls per "
                          f"{limit.window:g} s) is spent; the next call is due in {wait:.0f} s.",
                          retry_after=max(wait, 1.0), status=429, platform=self.platform)

    def record_usage(self, headers: Any) -> None:
        """Keep the limits a response (or an error's headers) reported."""
        if not self.usage_headers:
            return
        for key, name in self.usage_headers.items():
            value = header(headers, name)
            if value is not None:
                self.usage[key] = _number(value)
        self.usage["observed_at"] = self.clock()


def _number(value: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
