"""The write ledger: which contacts await a write, the flushes that write them, and writes in flight.

A contact stays ``dirty`` until its write is recorded (or dead-lettered), so a crash loses nothing;
it is ``inflight`` while its batch is on the wire, so a flush after a crash reads it back from the CRM
instead of writing it twice.

Sharded by contact: a stable hash puts each contact in one of ``WRITE_SHARDS`` shards per connection,
each with its own dirty set, flush flag, flush lock and in-flight set. A contact is only ever written
under its shard's lock, so no two workers write it at once, while two workers can flush different
shards of one connection side by side (one lock per connection let a second worker only wait). A
flush takes its own shard and then any free shards it can, until it holds a full write batch, so one
worker still writes a small backlog in as few CRM calls as one lock per connection did.
"""

from __future__ import annotations

import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import redis
import redis.lock

from ..redis_conn import as_text
from .keys import FLUSH_WRITES, QueueKeys
from .scheduling import FLAG_TTL, JOB_TIMEOUT, Enqueue

WRITE_SHARDS = 8  # per connection: more than workers on one connection, few enough to scan cheaply


def shard_of(contact_id: str) -> int:
    """The contact's shard: the same in every process (Python's ``hash`` of a str is salted per process)."""
    return zlib.crc32(contact_id.encode()) % WRITE_SHARDS


def by_shard(contact_ids: Iterable[str]) -> dict[int, list[str]]:
    shards: dict[int, list[str]] = defaultdict(list)
    for contact_id in contact_ids:
        shards[shard_of(contact_id)].append(contact_id)
    return shards


class WriteLedger:
    def __init__(self, connection: redis.Redis, keys: QueueKeys, enqueue: Enqueue) -> None:
        self.redis, self.keys, self.enqueue = connection, keys, enqueue

    # -- dirty contacts -------------------------------------------------------------------------
    def mark_dirty(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        self._per_shard("sadd", self.keys.dirty, connection_id, contact_ids)

    def peek_dirty(self, connection_id: int, shards: Sequence[int], limit: int) -> list[str]:
        """Up to ``limit`` contacts of these shards awaiting a write; they stay marked until ``written``."""
        found: list[str] = []
        for shard in shards:
            if len(found) >= limit:
                break
            found += map(as_text, self.redis.srandmember(self.keys.dirty(connection_id, shard), limit - len(found))
                         or [])
        return sorted(found)

    def written(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        self._per_shard("srem", self.keys.dirty, connection_id, contact_ids)

    def dirty_counts(self, connection_id: int) -> dict[int, int]:
        """Shard -> contacts awaiting a write, for the shards that have any (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for shard in range(WRITE_SHARDS):
            pipe.scard(self.keys.dirty(connection_id, shard))
        return {shard: int(n) for shard, n in enumerate(pipe.execute()) if n}

    def dirty_count(self, connection_id: int) -> int:
        return sum(self.dirty_counts(connection_id).values())

    # -- the flush jobs and their locks -----------------------------------------------------------
    def request_flush(self, connection_id: int, shard: int | None = None, delay: float = 0.0,
                      attempt: int = 1) -> bool:
        """One queued flush per shard; ``shard=None``: one for every shard with dirty contacts. While a
        delayed (backoff) flush waits, new requests join it. True when a job was queued."""
        if shard is None:
            self._adopt_unsharded(connection_id)
        shards = [shard] if shard is not None else sorted(self.dirty_counts(connection_id))
        queued = False
        for one in shards:
            if not self.redis.set(self.keys.flush(connection_id, one), 1, nx=True, ex=FLAG_TTL):
                continue
            queued = True
            if delay > 0:
                self.enqueue(FLUSH_WRITES, delay, connection_id, attempt=attempt, shard=one)
            else:
                # At the front: a flush writes what earlier refreshes found, so fields appear while the
                # rest is still being read (at a CRM's rate limit a FIFO made every write wait for the
                # last read: 1,880 of 2,000 new contacts became visible in the final 2 seconds).
                self.enqueue(FLUSH_WRITES, 0, connection_id, attempt=attempt, shard=one, at_front=True)
        return queued

    def flush_started(self, connection_id: int, shard: int) -> None:
        """A flush of this shard is running: any request from now on needs a job of its own."""
        self.redis.delete(self.keys.flush(connection_id, shard))

    def flush_lock(self, connection_id: int, shard: int) -> redis.lock.Lock:
        return self.redis.lock(self.keys.flush_lock(connection_id, shard), timeout=JOB_TIMEOUT, blocking=False)

    def take_more_shards(self, connection_id: int, held: list[int], want: int, token: str) -> list[redis.lock.Lock]:
        """Lock further free shards with dirty contacts until about ``want`` contacts are held (a small backlog
        spread over many shards is still written in full batches); ``held`` grows; returns the locks taken."""
        counts = self.dirty_counts(connection_id)
        have = sum(counts.get(shard, 0) for shard in held)
        taken: list[redis.lock.Lock] = []
        for shard, count in sorted(counts.items()):
            if have >= want:
                break
            if shard in held:
                continue
            lock = self.flush_lock(connection_id, shard)
            if lock.acquire(token=token):
                taken.append(lock)
                held.append(shard)
                have += count
        return taken

    @staticmethod
    def lock_token(worker_name: str | None) -> str:
        """Names the worker holding a flush lock, so a live worker can free it if this one dies."""
        return f"{worker_name or 'inline'}:{uuid.uuid4().hex}"

    def release_locks_of(self, workers: Sequence[str]) -> None:
        """Free the flush locks (every shard's) held by these (dead) workers."""
        owners = tuple(f"{name}:" for name in workers)
        for key in self.redis.scan_iter(match=self.keys.flush_locks, count=100):
            if as_text(self.redis.get(key)).startswith(owners):
                self.redis.delete(key)

    # -- writes in flight ---------------------------------------------------------------------------
    def sending(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        self._per_shard("sadd", self.keys.inflight, connection_id, contact_ids)

    def sent(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        self._per_shard("srem", self.keys.inflight, connection_id, contact_ids)

    def in_flight(self, connection_id: int, contact_ids: Sequence[str]) -> list[str]:
        """Those of ``contact_ids`` whose last write may or may not have reached the CRM."""
        uncertain: set[str] = set()
        for shard, ids in by_shard(contact_ids).items():
            flags = self.redis.smismember(self.keys.inflight(connection_id, shard), ids)
            uncertain.update(cid for cid, flag in zip(ids, flags, strict=True) if flag)
        return [cid for cid in contact_ids if cid in uncertain]

    def forget(self, connection_id: int, contact_id: str) -> None:
        """GDPR: out of every shard (not only its own, in case the shard count changed) and the unsharded sets."""
        pipe = self.redis.pipeline(transaction=False)
        for key in self._all_keys(connection_id):
            pipe.srem(key, contact_id)
        pipe.execute()

    # -- helpers ---------------------------------------------------------------------------------------
    def _per_shard(self, command: str, key: Callable[[int, int | None], str], connection_id: int,
                   contact_ids: Sequence[str]) -> None:
        if not contact_ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for shard, ids in by_shard(contact_ids).items():
            getattr(pipe, command)(key(connection_id, shard), *ids)
        pipe.execute()

    def _all_keys(self, connection_id: int) -> list[str]:
        return [key(connection_id, shard) for key in (self.keys.dirty, self.keys.inflight)
                for shard in (*range(WRITE_SHARDS), None)]

    def _adopt_unsharded(self, connection_id: int) -> None:
        """Contacts a release before sharding left in ``dirty:<conn>`` / ``inflight:<conn>`` move to their shards."""
        keys = (self.keys.dirty, self.keys.inflight)
        if not self.redis.exists(*(key(connection_id, None) for key in keys)):
            return
        for key in keys:
            legacy = key(connection_id, None)
            members = [as_text(m) for m in self.redis.smembers(legacy)]
            if members:
                self._per_shard("sadd", key, connection_id, members)
                self.redis.srem(legacy, *members)
