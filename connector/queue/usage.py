"""CRM calls counted in Redis, per connection and day, and handed to the ``api_usage`` table in bulk.

Every job that calls a CRM counts its calls here (one round trip) instead of upserting the day's row
(one database transaction per job: a row lock every worker queued on). The job that finds the last
flush older than ``FLUSH_SECONDS`` takes the counts out atomically and adds them to the table; a
worker shutting down flushes too. What ``status`` shows is the table plus what is still here.

What can be lost, by design: if Redis loses its data, the calls counted since the last flush (at most
``FLUSH_SECONDS`` of activity, plus calls of an idle connection's last jobs until its next job or a
worker's shutdown); if a worker dies between taking the counts and committing them, that one flush.
A flush that fails (the database is away) puts its counts back.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import redis

from ..redis_conn import as_text
from .keys import QueueKeys

FLUSH_SECONDS = 10


class UsageCounter:
    def __init__(self, connection: redis.Redis, keys: QueueKeys) -> None:
        self.redis, self.keys = connection, keys

    def add(self, connection_id: int, calls: int, limits: dict[str, Any], day: date) -> bool:
        """Count ``calls`` for ``day`` and keep the limits the CRM reported; True when a flush is due."""
        pipe = self.redis.pipeline(transaction=True)
        if calls:
            pipe.hincrby(self.keys.usage(connection_id), day.isoformat(), calls)
        if limits:
            pipe.set(self.keys.usage_limits(connection_id), json.dumps(limits))
        pipe.set(self.keys.usage_flush(connection_id), 1, nx=True, ex=FLUSH_SECONDS)
        return bool(pipe.execute()[-1])

    def take(self, connection_id: int) -> tuple[dict[date, int], dict[str, Any] | None]:
        """The counts not yet flushed (removed from Redis in the same transaction) and the last limits."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hgetall(self.keys.usage(connection_id))
        pipe.delete(self.keys.usage(connection_id))
        pipe.get(self.keys.usage_limits(connection_id))
        counts, _, limits = pipe.execute()
        return ({date.fromisoformat(as_text(day)): int(calls) for day, calls in counts.items()},
                json.loads(limits) if limits else None)

    def put_back(self, connection_id: int, counts: dict[date, int]) -> None:
        """A flush that could not commit: its counts wait for the next one."""
        pipe = self.redis.pipeline(transaction=True)
        for day, calls in counts.items():
            pipe.hincrby(self.keys.usage(connection_id), day.isoformat(), calls)
        pipe.execute()

    def pending(self, connection_ids: list[int], day: date) -> dict[int, tuple[int, dict[str, Any] | None]]:
        """Per connection: calls on ``day`` not yet in the table, and the last limits reported (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for connection_id in connection_ids:
            pipe.hget(self.keys.usage(connection_id), day.isoformat())
            pipe.get(self.keys.usage_limits(connection_id))
        answers = pipe.execute()
        return {connection_id: (int(calls or 0), json.loads(limits) if limits else None)
                for connection_id, calls, limits in zip(connection_ids, answers[::2], answers[1::2], strict=True)}

    def counted_connections(self) -> list[int]:
        """Connections with counts not yet flushed (for a worker's flush on shutdown)."""
        prefix = self.keys.usage(0)[:-1]
        return sorted(int(as_text(key)[len(prefix):]) for key in self.redis.scan_iter(match=f"{prefix}*", count=100)
                      if as_text(key)[len(prefix):].isdigit())
