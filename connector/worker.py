"""The worker process: RQ's SimpleWorker plus fast recovery of jobs whose worker died.

RQ notices an abandoned job only when its StartedJobRegistry entry expires: for a SimpleWorker
that is the job timeout + 60 s (11 minutes with our 600 s timeout), and a flush lock held by the
dead worker blocks that connection's writes just as long. So every worker here also beats a
heartbeat into Redis every few seconds from a thread (it keeps beating while a job runs); a live
worker that sees another worker's heartbeat go stale expires that worker's started jobs, lets RQ
retry them (``Retry(max=3)``; jobs are idempotent) and releases the flush locks it held.

Workers that do not beat (a plain ``rq worker``, the in-process burst workers of tests) are never
judged dead here; RQ's own timeout still covers them.

Each beat also checks the ``data-marker`` key, which only a data loss removes (a Redis restarted
without persistence, a failover to an empty replica). Acknowledged webhooks whose jobs were queued
exist only in the CRM then, so the worker queues a reconcile of every connection at once instead of
leaving them to the next scheduled round (up to CEM_RECONCILE_INTERVAL later).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import redis
from rq import SimpleWorker
from rq.executions import Execution
from rq.registry import StartedJobRegistry
from rq.utils import parse_composite_key

from .queue import RECONCILE_ALL, DeliveryLog, QueueKeys, WriteLedger
from .redis_conn import as_text

log = logging.getLogger("cem.worker")

BEAT_SECONDS = 2.0
STALE_SECONDS = 10.0  # a worker silent this long is dead (SIGKILL, OOM, machine gone)


class CEMWorker(SimpleWorker):
    def __init__(self, *args: Any, keys: QueueKeys, ledger: WriteLedger, deliveries: DeliveryLog | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deliveries = deliveries  # frees the drain locks a dead worker held
        self.heartbeats_key = keys.heartbeats
        self.recovery_lock_key = keys.recovery_lock
        self.data_marker_key = keys.data_marker
        self.ledger = ledger  # frees the flush locks a dead worker held
        self._stop_beating = threading.Event()
        self._beater: threading.Thread | None = None

    def work(self, *args: Any, **kwargs: Any) -> bool:
        # the first beat before the first job: a worker killed during its first job must be known
        with contextlib.suppress(redis.RedisError):
            self.connection.zadd(self.heartbeats_key, {self.name: self._redis_time()})
            self.check_data_marker()
        self._beater = threading.Thread(target=self._beat_forever, name="cem-heartbeat", daemon=True)
        self._beater.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            self._stop_beating.set()
            self._beater.join(timeout=BEAT_SECONDS * 2)
            with contextlib.suppress(redis.RedisError):
                self.connection.zrem(self.heartbeats_key, self.name)

    # -- heartbeat and recovery ------------------------------------------------------------------
    def _beat_forever(self) -> None:
        grace_until = 0.0  # after Redis comes back, peers need a beat or two before they look alive again
        healthy = True
        while not self._stop_beating.wait(BEAT_SECONDS):
            try:
                now = self._redis_time()
                self.connection.zadd(self.heartbeats_key, {self.name: now})
                self.check_data_marker()
                if not healthy:
                    grace_until = now + STALE_SECONDS
                healthy = True
                if now >= grace_until:
                    self.recover_dead_workers(now)
            except redis.RedisError:
                healthy = False  # Redis is down: nothing to beat into; jobs wait for it too
            except Exception:  # never let the heartbeat thread die silently
                log.exception("heartbeat/recovery round failed")

    def check_data_marker(self) -> bool:
        """Set the marker when it is missing and, if so, queue a reconcile of every connection; True then."""
        if not self.connection.set(self.data_marker_key, self.name, nx=True):
            return False
        self.ledger.enqueue(RECONCILE_ALL, 0)
        log.warning("Redis holds no data marker (a new Redis, or one that lost its data): reconciling every "
                    "connection now")
        return True

    def _redis_time(self) -> float:
        seconds, micros = self.connection.time()  # one clock for every machine
        return seconds + micros / 1_000_000

    def recover_dead_workers(self, now: float) -> list[str]:
        dead = [as_text(name) for name in self.connection.zrangebyscore(self.heartbeats_key, 0, now - STALE_SECONDS)]
        dead = [name for name in dead if name != self.name]
        if not dead or not self.connection.set(self.recovery_lock_key, self.name, nx=True, ex=int(STALE_SECONDS)):
            return []
        try:
            for queue in self.queues:
                self._expire_executions_of(queue, set(dead))
            self.ledger.release_locks_of(dead)
            if self.deliveries is not None:
                self.deliveries.release_locks_of(dead)
            self.connection.zrem(self.heartbeats_key, *dead)
        finally:
            self.connection.delete(self.recovery_lock_key)
        log.warning("recovered the jobs of %d dead worker(s): %s", len(dead), ", ".join(dead))
        return dead

    def _expire_executions_of(self, queue: Any, dead: set[str]) -> None:
        registry = StartedJobRegistry(queue=queue)
        expired = 0
        for entry in self.connection.zrange(registry.key, 0, -1):
            composite = as_text(entry)
            job_id, execution_id = parse_composite_key(composite)
            try:
                owner = Execution.fetch(execution_id, job_id, self.connection).worker_name
            except ValueError:  # the execution record is gone: RQ's own expiry deals with the entry
                continue
            if owner in dead:
                # expire the entry now; RQ's own cleanup then retries the job (or fails it when out of retries)
                self.connection.zadd(registry.key, {composite: 0}, xx=True)
                expired += 1
        if expired:
            registry.cleanup(timestamp=1)


def flush_usage_on_stop(rt: Any) -> None:
    """A stopping worker adds the CRM calls counted in Redis to the ``api_usage`` table (connector/queue/usage.py),
    so counts of an install that goes quiet do not stay in Redis only."""
    from .jobs import flush_api_usage

    try:
        flush_api_usage(rt)
    except Exception:  # Redis or the database is away: the counts stay in Redis for the next flush
        log.warning("could not flush the API call counts on shutdown; the next job flushes them", exc_info=True)
