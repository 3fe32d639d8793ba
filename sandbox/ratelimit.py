"""A sliding-window rate limiter, as the real CRMs apply per app / per account."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._hits and now - self._hits[0] >= self.window:
            self._hits.popleft()

    def try_acquire(self) -> tuple[bool, int, float]:
        """Record one request. Returns (allowed, remaining, seconds until a slot frees up)."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            if len(self._hits) >= self.limit:
                return False, 0, max(0.0, self.window - (now - self._hits[0]))
            self._hits.append(now)
            return True, self.limit - len(self._hits), 0.0
