"""The refresh coalescer: one refresh per contact however many events arrive, handed out in batches."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis

from adapters.base import chunked

from ..redis_conn import as_text
from .keys import COLLECT_REFRESHES, REFRESH_CONTACTS, QueueKeys
from .scheduling import FLAG_TTL, Enqueue

REFRESH_BATCH = 50  # contacts per refresh job unless the adapter says more (CRMAdapter.read_batch_size)
# The collector hands out this long after the first contact of a burst arrived (or as soon as a full
# batch waits), so one batch read covers what comes in meanwhile: a refresh of 2 contacts costs as
# many calls as one of 100, and at a steady 200 events/s handing out at once made ~20 half-empty
# refreshes where 5 full ones do (bench.calls).
FILL_WINDOW = 1.0
COLLECT_POLL = 0.2  # a collector that finds the window open waits at most this long, then queues itself again


class RefreshCoalescer:
    def __init__(self, connection: redis.Redis, keys: QueueKeys, enqueue: Enqueue) -> None:
        self.redis, self.keys, self.enqueue = connection, keys, enqueue

    def request(self, connection_id: int, contact_ids: Sequence[str]) -> int:
        """Queue one refresh per contact however many events arrive before it runs.

        New contacts wait in ``waiting:<conn>`` for one collector job, queued FILL_WINDOW after the
        first of them, which hands them out in the adapter's batch size: CRMs that send one webhook
        per record (Dataverse) still get batch reads, because everything that arrived while the
        collector waited goes together.
        Returns how many contacts were newly queued.
        """
        pipe = self.redis.pipeline(transaction=False)
        unique = list(dict.fromkeys(contact_ids))
        for contact_id in unique:
            pipe.set(self.keys.pending(connection_id, contact_id), 1, nx=True, ex=FLAG_TTL)
        fresh = [cid for cid, was_set in zip(unique, pipe.execute(), strict=True) if was_set]
        if fresh:
            self.redis.sadd(self.keys.waiting(connection_id), *fresh)
            self._ensure_collector(connection_id)
        return len(fresh)

    def window_left(self, connection_id: int) -> float:
        """Seconds until the fill window of the waiting contacts closes (0: hand them out now)."""
        opened = self.redis.get(self.keys.collect(connection_id))
        return max(0.0, FILL_WINDOW - (time.time() - float(opened))) if opened else 0.0

    def collect_later(self, connection_id: int) -> None:
        """The window is still open: the collector goes to the back of the queue (not through RQ's
        scheduler, whose process does not survive a Redis restart: delayed jobs stalled a minute)."""
        self.enqueue(COLLECT_REFRESHES, 0, connection_id)

    def hand_out(self, connection_id: int, batch: int = REFRESH_BATCH, limit: int = 5000) -> int:
        """Turn waiting contacts into refresh jobs of ``batch``; they leave the waiting set only
        once their job is queued, so a crash here can only duplicate a refresh, never drop one."""
        key = self.keys.waiting(connection_id)
        self.redis.delete(self.keys.collect(connection_id))  # arrivals from now on need a new collector
        ids = sorted(map(as_text, self.redis.srandmember(key, limit) or []))
        for chunk in chunked(ids, batch):
            self.enqueue(REFRESH_CONTACTS, 0, connection_id, list(chunk))
            self.redis.srem(key, *chunk)
        if self.redis.scard(key):
            self._ensure_collector(connection_id)
        return len(ids)

    def started(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        # Cleared before reading the CRM so a change made during the read queues another refresh.
        if contact_ids:
            self.redis.delete(*(self.keys.pending(connection_id, cid) for cid in contact_ids))

    def forget(self, connection_id: int, contact_id: str) -> None:
        self.redis.delete(self.keys.pending(connection_id, contact_id))
        self.redis.srem(self.keys.waiting(connection_id), contact_id)

    def _ensure_collector(self, connection_id: int) -> None:
        if self.redis.set(self.keys.collect(connection_id), repr(time.time()), nx=True, ex=FLAG_TTL):
            self.enqueue(COLLECT_REFRESHES, 0, connection_id)
