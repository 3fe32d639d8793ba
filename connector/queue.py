"""The work queue (RQ on Redis): dedupe of deliveries, coalescing flags, retries with backoff.

Redis keys (all under ``cem:<queue name>:``, so installs sharing a Redis never see each other's):
- ``seen:<conn>``              ids of the deliveries accepted, scored by arrival time (kept SEEN_DAYS days)
- ``pending:<conn>:<contact>``  a refresh of this contact is queued (coalesces bursts)
- ``waiting:<conn>``            contacts to refresh, until the collector puts them in batch jobs
- ``collect:<conn>``            a collector job is queued
- ``dirty:<conn>``              set of contacts whose new values await a batched write; a contact
                                leaves it only once written (or dead-lettered), so a crash loses nothing
- ``flush:<conn>``              a flush job is queued
- ``flush-lock:<conn>``         one flush at a time per connection (no two workers write one contact)
- ``inflight:<conn>``           contacts whose write was sent but not yet recorded; left over only when a
                                worker died mid-write, so the next flush reads them back before rewriting
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import redis
import redis.lock
from rq import Queue, Retry

from webhooks.events import ChangeEvent

from .redis_conn import QueueUnavailable

SEEN_DAYS = 8  # CRMs retry for at most a day or two (HubSpot 24 h, Salesforce 24 h); a week is plenty
FLAG_TTL = 3600  # a flag outlives no crash: a lost job never blocks a contact for more than an hour
JOB_TIMEOUT = 600
# RQ-level retries cover a worker killed mid-job (the job is then abandoned and retried).
CRASH_RETRY = Retry(max=3, interval=[1, 5, 30])
# Nobody reads job results, and a finished job's arguments name contacts: keeping them for RQ's
# default 500 s would leave a forgotten (GDPR) person's id in Redis after `forget`.
RESULT_TTL = 0
REFRESH_BATCH = 50  # contacts per refresh job: one batch read per object type covers them all


class JobQueue:
    def __init__(self, connection: redis.Redis, name: str = "cem") -> None:
        self.redis = connection
        self.name = name
        self.prefix = f"cem:{name}:"
        self.rq = Queue(name, connection=connection, default_timeout=JOB_TIMEOUT)

    # -- intake (called by webhook receivers; must be fast) ------------------------------
    def accept(self, connection_id: int, events: Sequence[ChangeEvent]) -> int:
        """Enqueue the deliveries not seen before; returns how many were new.

        Order matters for "nothing lost": we enqueue first and mark as seen after,
        so a crash in between can only cause a harmless duplicate, never a drop.
        """
        from .jobs import process_events

        try:
            unique = list({e.event_id: e for e in events}.values())
            if not unique:
                return 0
            # One sorted set per connection: a 100-event delivery costs three commands, not a
            # hundred keys; the score (arrival time) lets old ids be trimmed in one go.
            key = f"{self.prefix}seen:{connection_id}"
            scores = self.redis.zmscore(key, [e.event_id for e in unique])
            fresh = [e for e, score in zip(unique, scores, strict=True) if score is None]
            if fresh:
                self.rq.enqueue(process_events, connection_id, [e.to_dict() for e in fresh],
                                retry=CRASH_RETRY, result_ttl=RESULT_TTL, failure_ttl=30 * 24 * 3600)
                now = time.time()
                pipe = self.redis.pipeline(transaction=False)
                pipe.zadd(key, {e.event_id: now for e in fresh})
                pipe.zremrangebyscore(key, 0, now - SEEN_DAYS * 86400)
                pipe.execute()
            return len(fresh)
        except redis.RedisError as exc:
            raise QueueUnavailable("The job queue is unavailable; try again shortly.") from exc

    # -- coalescing ----------------------------------------------------------------------
    def request_refresh(self, connection_id: int, contact_ids: Sequence[str]) -> int:
        """Queue one refresh per contact however many events arrive before it runs.

        New contacts wait in ``waiting:<conn>`` for one collector job, which hands them out in
        batches of REFRESH_BATCH: CRMs that send one webhook per record (Dataverse) still get
        batch reads, because everything that arrived while the collector was queued goes together.
        Returns how many contacts were newly queued.
        """
        from .jobs import collect_refreshes

        pipe = self.redis.pipeline(transaction=False)
        unique = list(dict.fromkeys(contact_ids))
        for contact_id in unique:
            pipe.set(f"{self.prefix}pending:{connection_id}:{contact_id}", 1, nx=True, ex=FLAG_TTL)
        fresh = [cid for cid, was_set in zip(unique, pipe.execute(), strict=True) if was_set]
        if fresh:
            self.redis.sadd(f"{self.prefix}waiting:{connection_id}", *fresh)
            if self.redis.set(f"{self.prefix}collect:{connection_id}", 1, nx=True, ex=FLAG_TTL):
                self.rq.enqueue(collect_refreshes, connection_id, retry=CRASH_RETRY, result_ttl=RESULT_TTL)
        return len(fresh)

    def hand_out_refreshes(self, connection_id: int, limit: int = 100 * REFRESH_BATCH) -> int:
        """Turn waiting contacts into refresh jobs of REFRESH_BATCH; they leave the waiting set only
        once their job is queued, so a crash here can only duplicate a refresh, never drop one."""
        from .jobs import refresh_contacts

        self.redis.delete(f"{self.prefix}collect:{connection_id}")  # arrivals from now on need a new collector
        key = f"{self.prefix}waiting:{connection_id}"
        raw = self.redis.srandmember(key, limit) or []
        ids = sorted(item.decode() if isinstance(item, bytes) else str(item) for item in raw)
        for start in range(0, len(ids), REFRESH_BATCH):
            chunk = ids[start:start + REFRESH_BATCH]
            self.rq.enqueue(refresh_contacts, connection_id, chunk, retry=CRASH_RETRY, result_ttl=RESULT_TTL)
            self.redis.srem(key, *chunk)
        if self.redis.scard(key) and self.redis.set(f"{self.prefix}collect:{connection_id}", 1, nx=True,
                                                     ex=FLAG_TTL):
            from .jobs import collect_refreshes

            self.rq.enqueue(collect_refreshes, connection_id, retry=CRASH_RETRY, result_ttl=RESULT_TTL)
        return len(ids)

    def refresh_started(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        # Cleared before reading the CRM so a change made during the read queues another refresh.
        if contact_ids:
            self.redis.delete(*(f"{self.prefix}pending:{connection_id}:{cid}" for cid in contact_ids))

    def mark_dirty(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.sadd(f"{self.prefix}dirty:{connection_id}", *contact_ids)

    def request_flush(self, connection_id: int, delay: float = 0.0, attempt: int = 1) -> bool:
        """One queued flush per connection; while a delayed (backoff) flush waits, new requests join it."""
        from .jobs import flush_writes

        if not self.redis.set(f"{self.prefix}flush:{connection_id}", 1, nx=True, ex=FLAG_TTL):
            return False
        self.enqueue(flush_writes, delay, connection_id, attempt=attempt)
        return True

    def flush_started(self, connection_id: int) -> None:
        """A flush job is running: any request from now on needs a job of its own."""
        self.redis.delete(f"{self.prefix}flush:{connection_id}")

    def peek_dirty(self, connection_id: int, limit: int) -> list[str]:
        """Up to ``limit`` contacts awaiting a write; they stay marked until ``written``."""
        raw = self.redis.srandmember(f"{self.prefix}dirty:{connection_id}", limit) or []
        return sorted(item.decode() if isinstance(item, bytes) else str(item) for item in raw)

    def written(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.srem(f"{self.prefix}dirty:{connection_id}", *contact_ids)

    def flush_lock(self, connection_id: int) -> redis.lock.Lock:
        return self.redis.lock(f"{self.prefix}flush-lock:{connection_id}", timeout=JOB_TIMEOUT, blocking=False)

    def dirty_count(self, connection_id: int) -> int:
        return int(self.redis.scard(f"{self.prefix}dirty:{connection_id}"))

    def sending(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.sadd(f"{self.prefix}inflight:{connection_id}", *contact_ids)

    def sent(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if contact_ids:
            self.redis.srem(f"{self.prefix}inflight:{connection_id}", *contact_ids)

    def in_flight(self, connection_id: int, contact_ids: Sequence[str]) -> list[str]:
        """Those of ``contact_ids`` whose last write may or may not have reached the CRM."""
        if not contact_ids:
            return []
        flags = self.redis.smismember(f"{self.prefix}inflight:{connection_id}", list(contact_ids))
        return [cid for cid, flag in zip(contact_ids, flags, strict=True) if flag]

    def forget_contact(self, connection_id: int, contact_id: str) -> None:
        self.redis.delete(f"{self.prefix}pending:{connection_id}:{contact_id}")
        self.redis.srem(f"{self.prefix}dirty:{connection_id}", contact_id)
        self.redis.srem(f"{self.prefix}inflight:{connection_id}", contact_id)
        self.redis.srem(f"{self.prefix}waiting:{connection_id}", contact_id)
        self._forget_failed_jobs(connection_id, contact_id)

    def _forget_failed_jobs(self, connection_id: int, contact_id: str) -> None:
        """Failed-job records keep their arguments (contact ids) for weeks: drop the ones naming the person."""
        from rq.job import Job
        from rq.registry import FailedJobRegistry

        registry = FailedJobRegistry(queue=self.rq)
        for job in Job.fetch_many(registry.get_job_ids(), connection=self.redis):
            if job is None or not job.args or job.args[0] != connection_id:
                continue
            if _names(job.args[1:], contact_id):
                registry.remove(job, delete_job=True)

    # -- scheduling ----------------------------------------------------------------------
    def enqueue(self, func: Callable[..., Any], delay: float, *args: Any, **kwargs: Any) -> None:
        if delay > 0:
            self.rq.enqueue_in(timedelta(seconds=delay), func, *args, retry=CRASH_RETRY, result_ttl=RESULT_TTL,
                               **kwargs)
        else:
            self.rq.enqueue(func, *args, retry=CRASH_RETRY, result_ttl=RESULT_TTL, **kwargs)

    def last_delivery(self, connection_id: int) -> float | None:
        """When the newest new webhook event for this connection arrived (epoch seconds), if known."""
        newest = self.redis.zrange(f"{self.prefix}seen:{connection_id}", -1, -1, withscores=True)
        return float(newest[0][1]) if newest else None

    def depth(self) -> dict[str, int]:
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

        return {
            "queued": self.rq.count,
            "started": StartedJobRegistry(queue=self.rq).count,
            "scheduled": ScheduledJobRegistry(queue=self.rq).count,
            "failed": FailedJobRegistry(queue=self.rq).count,
        }


def backoff_delay(attempt: int, base: float, retry_after: float | None = None, cap: float = 3600.0) -> float:
    """Exponential backoff with jitter, never sooner than the CRM's Retry-After."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def _names(value: Any, contact_id: str) -> bool:
    """True when a job argument (ids, event dicts, nested lists) mentions the contact."""
    if isinstance(value, str):
        return value == contact_id
    if isinstance(value, dict):
        return any(_names(v, contact_id) for k, v in value.items() if k in ("object_id", "contact_ids"))
    if isinstance(value, list | tuple):
        return any(_names(v, contact_id) for v in value)
    return False
