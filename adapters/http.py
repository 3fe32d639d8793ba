"""Shared HTTP plumbing for every CRM adapter: status -> typed error, ``Retry-After``, bounded retry.

Adapters differ in transport (hubspot-api-client over urllib3, simple-salesforce and
plain ``requests`` elsewhere) but agree on what a status means:

==========================  =====================================================
status                      error (``adapters.errors``)
==========================  =====================================================
401                         ``AuthenticationError``   (reconnect / new token)
403                         ``PermissionDenied``      (missing scope, role, licence)
404, 410                    ``NotFound``
423                         ``RateLimited``           (record locked; wait >= 2 s)
429                         ``RateLimited``           (``retry_after`` from the header)
477                         ``RateLimited``           (HubSpot account migration)
408, 425, 5xx, 0/None       ``TransientError``        (network, gateway, timeout)
other 4xx                   ``InvalidRequest``
==========================  =====================================================

``call_with_retry`` then retries retryable errors *in place* when the wait is short
(a few seconds) and a bounded number of times; long waits are raised so the job
layer can reschedule instead of blocking a worker.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import (
    AdapterError,
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)

T = TypeVar("T")

# Statuses that mean "the same request may succeed later".
TRANSIENT_STATUSES = frozenset({0, 408, 425, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Statuses that mean "slow down", each with the minimum wait the platform asks for.
THROTTLE_MIN_WAIT: Mapping[int, float] = {429: 1.0, 423: 2.0, 477: 1.0}


def header(headers: Mapping[str, str] | Any, name: str) -> str | None:
    """Case-insensitive header lookup on a dict, an HTTPHeaderDict or ``requests`` headers."""
    if not headers:
        return None
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return str(value)
    lower = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == lower:
            return str(value)
    return None


def int_header(headers: Mapping[str, str] | Any, name: str) -> int | None:
    value = header(headers, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP-date); None if absent/garbled."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_for_status(status: int | None, message: str, *, platform: str | None = None,
                     retry_after: float | None = None) -> AdapterError:
    """The ``adapters.errors`` instance for an HTTP status (see the module table)."""
    code = status or 0
    if code in THROTTLE_MIN_WAIT:
        wait = max(THROTTLE_MIN_WAIT[code], retry_after or 0.0)
        return RateLimited(message, retry_after=wait, status=code, platform=platform)
    if code == 401:
        return AuthenticationError(message, status=code, platform=platform)
    if code == 403:
        return PermissionDenied(message, status=code, platform=platform)
    if code in (404, 410):
        return NotFound(message, status=code, platform=platform)
    if code in TRANSIENT_STATUSES or code >= 500:
        error = TransientError(message, status=code, platform=platform)
        error.retry_after = retry_after  # a 503 may say when to come back
        return error
    return InvalidRequest(message, status=code, platform=platform)


def error_from_response(response: Any, *, platform: str | None = None, describe: str = "",
                        max_body: int = 500) -> AdapterError:
    """Map a ``requests.Response`` (or anything with status_code/headers/text) to a typed error.

    The message carries the start of the body: CRMs put the actionable reason there
    (missing scope, invalid field); callers that know the body format can do better.
    """
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", {}) or {}
    body = (getattr(response, "text", "") or "")[:max_body]
    prefix = f"{describe}: " if describe else ""
    message = f"{prefix}HTTP {status}" + (f" - {body}" if body else "")
    return error_for_status(status, message, platform=platform,
                            retry_after=parse_retry_after(header(headers, "Retry-After")))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one call in place before giving the error to the job layer."""

    max_attempts: int = 4  # total tries, including the first
    max_inline_wait: float = 10.0  # a longer wait is raised (RateLimited.retry_after) instead of slept
    base_delay: float = 0.5  # first backoff when the server gave no Retry-After
    max_delay: float = 8.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with jitter for ``attempt`` (1-based): 0.5, 1, 2, 4 ... capped."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return ceiling * (0.5 + (rng or random).random() / 2)


def wait_for(error: AdapterError, attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Seconds to wait before retrying ``error``: the server's word first, else backoff."""
    if error.retry_after is not None:
        return float(error.retry_after)
    return policy.backoff(attempt, rng)


def call_with_retry(operation: Callable[[], T], *, policy: RetryPolicy | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    on_retry: Callable[[AdapterError, int, float], None] | None = None,
                    rng: random.Random | None = None) -> T:
    """Run ``operation``; retry retryable ``AdapterError``s with short waits, at most ``max_attempts`` tries.

    Non-retryable errors, the last attempt's error and any error whose wait exceeds
    ``max_inline_wait`` propagate unchanged (with ``retry_after`` set for the caller).
    """
    policy = policy or RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return operation()
        except AdapterError as error:
            if not error.retryable or attempt >= policy.max_attempts:
                raise
            wait = wait_for(error, attempt, policy, rng)
            if wait > policy.max_inline_wait:
                raise
            if on_retry is not None:
                on_retry(error, attempt, wait)
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
