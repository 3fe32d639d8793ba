"""The write ledger: which contacts await a write, the one flush per connection, and writes in flight.

A contact stays ``dirty`` until its write is recorded (or dead-lettered), so a crash loses nothing;
it is ``inflight`` while its batch is on the wire, so a flush after a crash reads it back from the CRM
instead of writing it twice. One flush job is queued per connection (``flush``) and one runs at a time
(``flush-lock``, held under a token naming the worker, so a live worker can free it if that one dies).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import redis
import redis.lock

from ..redis_conn import as_text
from .keys import FLUSH_WRITES, QueueKeys
from .scheduling import FLAG_TTL, JOB_TIMEOUT, Enqueue


class WriteLedger:
    def __init__(self, connection: redis.Redis, keys: QueueKeys, enqueue: Enqueue) -> None:
        self.redis, self.keys, self.enqueue = connection, keys, enqueue

    # -- dirty contacts -------------------------------------------------------------------------
    def mark_dirty(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.sadd(self.keys.dirty(connection_id), *contact_ids)

    def peek_dirty(self, connection_id: int, limit: int) -> list[str]:
        """Up to ``limit`` contacts awaiting a write; they stay marked until ``written``."""
        return sorted(map(as_text, self.redis.srandmember(self.keys.dirty(connection_id), limit) or []))

    def written(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.srem(self.keys.dirty(connection_id), *contact_ids)

    def dirty_count(self, connection_id: int) -> int:
        return int(self.redis.scard(self.keys.dirty(connection_id)))

    # -- the flush job and its lock ---------------------------------------------------------------
    def request_flush(self, connection_id: int, delay: float = 0.0, attempt: int = 1) -> bool:
        """One queued flush per connection; while a delayed (backoff) flush waits, new requests join it."""
        if not self.redis.set(self.keys.flush(connection_id), 1, nx=True, ex=FLAG_TTL):
            return False
        if delay > 0:
            self.enqueue(FLUSH_WRITES, delay, connection_id, attempt=attempt)
        else:
            # At the front: a flush writes what earlier refreshes found, so fields appear while the
            # rest is still being read (at a CRM's rate limit a FIFO made every write wait for the
            # last read: 1,880 of 2,000 new contacts became visible in the final 2 seconds).
            self.enqueue(FLUSH_WRITES, 0, connection_id, attempt=attempt, at_front=True)
        return True

    def flush_started(self, connection_id: int) -> None:
        """A flush job is running: any request from now on needs a job of its own."""
        self.redis.delete(self.keys.flush(connection_id))

    def flush_lock(self, connection_id: int) -> redis.lock.Lock:
        return self.redis.lock(self.keys.flush_lock(connection_id), timeout=JOB_TIMEOUT, blocking=False)

    @staticmethod
    def lock_token(worker_name: str | None) -> str:
        """Names the worker holding a flush lock, so a live worker can free it if this one dies."""
        return f"{worker_name or 'inline'}:{uuid.uuid4().hex}"

    def release_locks_of(self, workers: Sequence[str]) -> None:
        """Free the flush locks held by these (dead) workers."""
        owners = tuple(f"{name}:" for name in workers)
        for key in self.redis.scan_iter(match=self.keys.flush_locks, count=100):
            if as_text(self.redis.get(key)).startswith(owners):
                self.redis.delete(key)

    # -- writes in flight ---------------------------------------------------------------------------
    def sending(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.sadd(self.keys.inflight(connection_id), *contact_ids)

    def sent(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.srem(self.keys.inflight(connection_id), *contact_ids)

    def in_flight(self, connection_id: int, contact_ids: Sequence[str]) -> list[str]:
        """Those of ``contact_ids`` whose last write may or may not have reached the CRM."""
        if not contact_ids:
            return []
        flags = self.redis.smismember(self.keys.inflight(connection_id), list(contact_ids))
        return [cid for cid, flag in zip(contact_ids, flags, strict=True) if flag]

    def forget(self, connection_id: int, contact_id: str) -> None:
        self.redis.srem(self.keys.dirty(connection_id), contact_id)
        self.redis.srem(self.keys.inflight(connection_id), contact_id)
