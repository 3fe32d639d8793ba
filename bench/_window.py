"""How full the CRM's rolling window was, as the sandbox saw it (bench.budget, bench.backfill).

``budget used`` in those rows divides the calls accepted by ``limit x elapsed / window + limit``, a
fluid bound that a rolling window never reaches: a slot frees only when the call that took it is a
window old, so after the opening burst the calls can come only as fast as the burst's own calls age
out, and the bound counts the gaps the window itself enforces as budget left idle. ``held`` is the
rolling measure: from the first accepted call to the last, the window's occupancy (calls in the last
``window`` seconds / ``limit``, capped at 1) sampled every 100 ms and averaged. A worker that calls
whenever the window has room holds it full; one that stops calling while it analyses does not.
``rolling bound`` divides the same calls by the most a rolling window accepts from the first accepted
call to the last: ``limit x (floor(span / window) + 1)`` (one full window per started window), the
bound the fluid formula should have been; it reads 100% only when every window started was spent.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any

SAMPLE = 0.1


class WindowRecorder:
    """Wraps the sandbox's limiter (``acquire``) to note when each call it accepted arrived."""

    def __init__(self, limits: Any, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.accepted: list[float] = []
        self._lock = threading.Lock()
        acquire = limits.acquire

        def noting(*args: Any, **kwargs: Any) -> Any:
            answer = acquire(*args, **kwargs)
            if answer[0] and not kwargs.get("search"):
                with self._lock:
                    self.accepted.append(time.monotonic())
            return answer

        limits.acquire = noting

    def bound_used(self, since: float) -> float:
        with self._lock:
            calls = sorted(t for t in self.accepted if t >= since)
        if not calls:
            return 0.0
        windows = int((calls[-1] - calls[0]) // self.window) + 1
        return len(calls) / (self.limit * windows)

    def held(self, since: float) -> float:
        with self._lock:
            calls = sorted(t for t in self.accepted if t >= since)
        if len(calls) < 2:
            return 0.0
        samples, t, total = 0, calls[0], 0.0
        while t <= calls[-1]:  # bounded: (last - first) / SAMPLE steps
            inside = bisect.bisect_right(calls, t) - bisect.bisect_right(calls, t - self.window)
            total += min(1.0, inside / self.limit)
            samples += 1
            t += SAMPLE
        return total / samples
