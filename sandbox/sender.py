"""Deliver webhooks the way the CRMs do: in the background, retrying failures with backoff.

Each platform's sandbox passes its own signer and retry schedule (HubSpot: up to
10 retries with jitter; Salesforce outbound messages: until acknowledged, up to
24 h; Dataverse async steps: one retry on 502/503/504). ``time_scale`` shrinks
the real schedule so tests and the demo do not wait hours.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests

# (url, body) -> headers to send, e.g. a signature
Signer = Callable[[str, bytes], dict[str, str]]
# (status or None on a network error, response body) -> True when delivered
Acknowledged = Callable[[int | None, bytes], bool]
# (attempt number starting at 1, status or None) -> retry this delivery?
ShouldRetry = Callable[[int, int | None], bool]


def ok_2xx(status: int | None, body: bytes) -> bool:
    return status is not None and 200 <= status < 300


@dataclass
class Delivery:
    id: int
    url: str
    body: bytes
    content_type: str
    extra_headers: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    statuses: list[int | None] = field(default_factory=list)
    delivered: bool = False
    abandoned: bool = False


class WebhookSender:
    """A background delivery loop with a retry schedule; bounded in attempts."""

    def __init__(
        self,
        signer: Signer,
        *,
        retry_delays: Sequence[float],
        acknowledged: Acknowledged = ok_2xx,
        should_retry: ShouldRetry | None = None,
        jitter: float = 0.2,
        time_scale: float = 1.0,
        timeout: float = 5.0,
        seed: int = 0,
    ) -> None:
        self.signer = signer
        self.retry_delays = list(retry_delays)
        self.acknowledged = acknowledged
        self.should_retry = should_retry or (lambda attempt, status: True)
        self.jitter = jitter
        self.time_scale = time_scale
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._random = random.Random(seed)
        self._heap: list[tuple[float, int, Delivery]] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopped = False
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def send(self, url: str, body: bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> Delivery:
        delivery = Delivery(next(self._ids), url, body, content_type, dict(headers or {}))
        with self._cond:
            self.deliveries.append(delivery)
            heapq.heappush(self._heap, (time.monotonic(), delivery.id, delivery))
            self._cond.notify_all()
        return delivery

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._in_flight

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every delivery is delivered or abandoned; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else 0.5
                    self._cond.wait(max(0.001, min(wait, 0.5)))
                if self._stopped:
                    return
                _, _, delivery = heapq.heappop(self._heap)
                self._in_flight += 1
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        headers = {"Content-Type": delivery.content_type, **delivery.extra_headers,
                   **self.signer(delivery.url, delivery.body)}
        status: int | None
        try:
            response = self._session.post(delivery.url, data=delivery.body, headers=headers, timeout=self.timeout)
            status, content = response.status_code, response.content
        except requests.RequestException:
            status, content = None, b""
        delivery.statuses.append(status)
        if self.acknowledged(status, content):
            delivery.delivered = True
            return
        retry_index = delivery.attempts - 1
        if retry_index >= len(self.retry_delays) or not self.should_retry(delivery.attempts, status):
            delivery.abandoned = True
            return
        delay = self.retry_delays[retry_index] * (1 + self._random.uniform(-self.jitter, self.jitter))
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay * self.time_scale, delivery.id, delivery))
            self._cond.notify_all()
