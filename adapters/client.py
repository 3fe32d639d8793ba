"""The base API client every CRM's client builds on (after django-anymail's ``base_requests`` backend).

One place owns what happens around a call, so the three CRMs cannot drift apart:

- **counting**: every request sent is counted (``calls``), thread-safely;
- **usage headers**: the limits a CRM reports per response (``usage_headers``) are kept in ``usage``;
- **pacing**: ``prepare()`` runs before each try (wait out an empty rate window, refuse a spent budget,
  refresh a token that is about to expire);
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
from typing import Any, ClassVar, TypeVar

from .errors import AuthenticationError
from .http import RetryPolicy, call_with_retry, header

T = TypeVar("T")


class ApiClient:
    platform: ClassVar[str]
    usage_headers: ClassVar[Mapping[str, str]] = {}  # usage key -> the response header that reports it

    def __init__(self, *, policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy or RetryPolicy()
        self.sleep, self.clock = sleep, clock
        self.calls = 0
        self.usage: dict[str, Any] = {}
        self._count_lock = threading.Lock()

    # -- what a platform may override ----------------------------------------------------------
    def prepare(self) -> None:
        """Before each try: pace on the last reported usage, refresh credentials about to expire."""

    def renew_credentials(self, error: AuthenticationError) -> bool:
        """The CRM refused the credentials: renew them if that can help; False re-raises ``error``."""
        return False

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
        with self._count_lock:
            self.calls += 1
        return send()

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
