"""adapters/http.py: status mapping, Retry-After parsing and the bounded in-place retry."""

from __future__ import annotations

import email.utils
import random

import pytest
import requests
import responses

from adapters import http
from adapters.errors import (
    AdapterError,
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)


@pytest.mark.parametrize(("status", "kind"), [
    (400, InvalidRequest), (401, AuthenticationError), (403, PermissionDenied), (404, NotFound),
    (410, NotFound), (409, InvalidRequest), (422, InvalidRequest), (423, RateLimited), (429, RateLimited),
    (477, RateLimited), (408, TransientError), (500, TransientError), (502, TransientError),
    (503, TransientError), (504, TransientError), (524, TransientError), (0, TransientError),
    (None, TransientError),
])
def test_status_maps_to_typed_error(status: int | None, kind: type[AdapterError]) -> None:
    error = http.error_for_status(status, "boom", platform="x")
    assert type(error) is kind
    assert error.platform == "x"
    assert error.retryable == (kind in (RateLimited, TransientError))


def test_locked_waits_at_least_two_seconds() -> None:
    assert http.error_for_status(423, "locked").retry_after == 2.0  # type: ignore[attr-defined]
    assert http.error_for_status(423, "locked", retry_after=5).retry_after == 5  # type: ignore[attr-defined]


def test_retry_after_forms() -> None:
    assert http.parse_retry_after("7") == 7.0
    assert http.parse_retry_after(" 0.5 ") == 0.5
    assert http.parse_retry_after("-3") == 0.0
    assert http.parse_retry_after(None) is None
    assert http.parse_retry_after("soon") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert http.parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    assert http.parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_header_lookup_ignores_case() -> None:
    assert http.header({"X-HubSpot-RateLimit-Max": "100"}, "x-hubspot-ratelimit-max") == "100"
    assert http.int_header({"a": "x"}, "A") is None
    assert http.header(None, "a") is None


@responses.activate
def test_error_from_requests_response_keeps_reason_and_retry_after() -> None:
    responses.get("https://crm.example.test/x", status=429, headers={"Retry-After": "3"},
                  json={"message": "slow down"})
    responses.get("https://crm.example.test/y", status=403, body="INSUFFICIENT_ACCESS on Contact")
    error = http.error_from_response(requests.get("https://crm.example.test/x", timeout=5), platform="p",
                                     describe="Reading contacts")
    assert isinstance(error, RateLimited) and error.retry_after == 3.0
    assert "Reading contacts: HTTP 429" in str(error) and "slow down" in str(error)
    denied = http.error_from_response(requests.get("https://crm.example.test/y", timeout=5))
    assert isinstance(denied, PermissionDenied) and "INSUFFICIENT_ACCESS" in str(denied)


class Flaky:
    def __init__(self, errors: list[AdapterError]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retry_sleeps_the_servers_wait_then_succeeds() -> None:
    slept: list[float] = []
    op = Flaky([RateLimited("429", retry_after=1.5), TransientError("502")])
    assert http.call_with_retry(op, sleep=slept.append, rng=random.Random(1)) == "ok"
    assert op.calls == 3
    assert slept[0] == 1.5 and 0.25 <= slept[1] <= 1.0  # second wait is backoff for attempt 2


def test_long_waits_are_raised_not_slept() -> None:
    slept: list[float] = []
    op = Flaky([RateLimited("daily limit", retry_after=3600)])
    with pytest.raises(RateLimited) as info:
        http.call_with_retry(op, sleep=slept.append)
    assert info.value.retry_after == 3600 and not slept and op.calls == 1


def test_attempts_are_bounded() -> None:
    slept: list[float] = []
    op = Flaky([TransientError("500")] * 10)
    with pytest.raises(TransientError):
        http.call_with_retry(op, policy=http.RetryPolicy(max_attempts=3), sleep=slept.append)
    assert op.calls == 3 and len(slept) == 2


def test_non_retryable_errors_pass_straight_through() -> None:
    op = Flaky([PermissionDenied("scope")])
    with pytest.raises(PermissionDenied):
        http.call_with_retry(op, sleep=lambda s: pytest.fail("must not sleep"))
    assert op.calls == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = http.RetryPolicy(base_delay=1, max_delay=4)
    rng = random.Random(0)
    waits = [policy.backoff(n, rng) for n in range(1, 7)]
    assert all(0.5 <= w <= 1 for w in waits[:1])
    assert all(w <= 4 for w in waits) and max(waits) >= 2
