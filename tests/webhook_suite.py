"""Security and bad-input tests written once, inherited by every platform's receiver tests.

A platform test class inherits ``WebhookSecuritySuite`` and supplies the hooks
below; every test here then runs against that platform (after django-anymail).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookReceiver, WebhookTarget
from webhooks.events import ChangeEvent

SECRET = "current-secret-0123456789"
OLD_SECRET = "previous-secret-9876543210"
WRONG_SECRET = "not-the-secret-000000000"


class RecordingSink:
    def __init__(self) -> None:
        self.batches: list[tuple[int, list[ChangeEvent]]] = []

    def __call__(self, connection_id: int, events: list[ChangeEvent]) -> int:
        self.batches.append((connection_id, events))
        return len(events)

    @property
    def events(self) -> list[ChangeEvent]:
        return [e for _, batch in self.batches for e in batch]


class WebhookSecuritySuite(abc.ABC):
    receiver_cls: ClassVar[type[WebhookReceiver]]
    content_type: ClassVar[str] = "application/json"
    supports_timestamp: ClassVar[bool] = False
    timestamp_tolerance: ClassVar[float] = 300.0
    now: ClassVar[float] = 1_800_000_000.0  # a fixed clock so signatures are reproducible

    # -- hooks a platform supplies ---------------------------------------------------
    @abc.abstractmethod
    def make_target(self, secrets: Sequence[str]) -> WebhookTarget:
        """Supplied by each platform's test class."""

    @abc.abstractmethod
    def valid_body(self) -> bytes:
        """Supplied by each platform's test class."""

    @abc.abstractmethod
    def signed_request(self, body: bytes, secret: str, *, timestamp: float | None = None) -> InboundRequest:
        """Supplied by each platform's test class."""

    def unsigned_request(self, body: bytes) -> InboundRequest:
        """The same request with every authentication header/parameter removed."""
        request = self.signed_request(body, SECRET)
        return self.strip_auth(request)

    @abc.abstractmethod
    def strip_auth(self, request: InboundRequest) -> InboundRequest:
        """Supplied by each platform's test class."""

    # -- helpers ---------------------------------------------------------------------
    def receiver(self) -> WebhookReceiver:
        return self.receiver_cls(clock=lambda: self.now)

    def run(self, request: InboundRequest, secrets: Sequence[str] = (SECRET,)) -> tuple[int, str, RecordingSink]:
        sink = RecordingSink()
        response = self.receiver().handle(request, [self.make_target(secrets)], sink)
        return response.status, response.body, sink

    @staticmethod
    def with_body(request: InboundRequest, body: bytes) -> InboundRequest:
        return replace(request, body=body)

    @staticmethod
    def with_header(request: InboundRequest, name: str, value: str) -> InboundRequest:
        headers = dict(request.headers)
        headers[name.lower()] = value
        return replace(request, headers=CaseInsensitiveDict(headers))

    # -- the shared tests --------------------------------------------------------------
    def test_valid_request_is_accepted(self) -> None:
        status, _, sink = self.run(self.signed_request(self.valid_body(), SECRET))
        assert 200 <= status < 300
        assert sink.events, "a valid delivery must reach the sink"

    def test_wrong_secret_is_rejected(self) -> None:
        status, body, sink = self.run(self.signed_request(self.valid_body(), WRONG_SECRET))
        assert status in (401, 403)
        assert not sink.events
        assert "Traceback" not in body

    def test_missing_authentication_is_rejected(self) -> None:
        status, _, sink = self.run(self.unsigned_request(self.valid_body()))
        assert status in (401, 403)
        assert not sink.events

    def test_tampered_body_is_rejected(self) -> None:
        request = self.signed_request(self.valid_body(), SECRET)
        tampered = request.body.replace(b"1", b"2", 1) if b"1" in request.body else request.body + b" "
        status, _, sink = self.run(self.with_body(request, tampered))
        if self.supports_timestamp or self.signs_body():
            assert status == 401
            assert not sink.events

    def signs_body(self) -> bool:
        """Platforms that authenticate with a shared key (not a body signature) override to False."""
        return True

    def test_rotated_secret_accepted_during_overlap(self) -> None:
        for secret in (OLD_SECRET, SECRET):
            status, _, sink = self.run(self.signed_request(self.valid_body(), secret), secrets=(SECRET, OLD_SECRET))
            assert 200 <= status < 300, f"secret {secret!r} should be accepted while both are configured"
            assert sink.events

    def test_stale_timestamp_is_rejected(self) -> None:
        if not self.supports_timestamp:
            return
        stale = self.now - self.timestamp_tolerance - 60
        status, _, sink = self.run(self.signed_request(self.valid_body(), SECRET, timestamp=stale))
        assert status == 401
        assert not sink.events

    def test_replayed_future_timestamp_is_rejected(self) -> None:
        if not self.supports_timestamp:
            return
        future = self.now + self.timestamp_tolerance + 60
        status, _, _ = self.run(self.signed_request(self.valid_body(), SECRET, timestamp=future))
        assert status == 401

    def test_malformed_body_is_400(self) -> None:
        for body in (b"{not json", b"", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'"just a string"'):
            status, text, sink = self.run(self.signed_request(body, SECRET))
            assert status == 400, f"body {body!r} gave {status}: {text}"
            assert not sink.events
            assert "Traceback" not in text

    def test_deep_nesting_is_400(self) -> None:
        body = self.deeply_nested_body(5000)
        status, _, sink = self.run(self.signed_request(body, SECRET))
        assert status == 400
        assert not sink.events

    def deeply_nested_body(self, depth: int) -> bytes:
        return b"[" * depth + b"]" * depth

    def test_wrong_content_type_is_415(self) -> None:
        request = self.with_header(self.signed_request(self.valid_body(), SECRET), "Content-Type", "text/plain")
        status, _, _ = self.run(request)
        assert status == 415

    def test_too_large_is_413(self) -> None:
        body = self.valid_body() + b" " * (self.receiver_cls.max_body_bytes + 1)
        status, _, _ = self.run(self.signed_request(body, SECRET))
        assert status == 413

    def test_wrong_method_is_405(self) -> None:
        request = replace(self.signed_request(self.valid_body(), SECRET), method="GET")
        status, _, _ = self.run(request)
        assert status == 405

    def test_error_bodies_are_clear(self) -> None:
        status, body, _ = self.run(self.signed_request(self.valid_body(), WRONG_SECRET))
        assert status in (401, 403)
        assert len(body) < 2000 and "Traceback" not in body and "File \"" not in body

    # differing_executors: the same inherited test runs once per platform class, by design
    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors])
    @given(st.one_of(
        st.binary(max_size=2048),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
            lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children,
                                                                               max_size=5),
            max_leaves=30,
        ).map(lambda value: json.dumps(value).encode()),
    ))
    def test_fuzzed_signed_bodies_never_give_5xx(self, body: bytes) -> None:
        status, text, _ = self.run(self.signed_request(body, SECRET))
        assert status < 500, f"{status}: {text}"
