"""The work queue (RQ on Redis), split by structure as rq splits its registries.

``JobQueue`` holds the RQ queue and hands out one object per concern, each owning its keys
(``keys.py``): ``deliveries`` (dedupe of webhook deliveries), ``refreshes`` (one refresh per
contact, handed out in batches) and ``writes`` (dirty contacts, the flush job and lock, writes in
flight) and ``usage`` (CRM calls counted before they reach the database). Jobs are enqueued by
dotted name, so nothing here imports the jobs.
"""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from .budget import CallBudget
from .deliveries import DeliveryLog
from .keys import QueueKeys
from .refreshes import RefreshCoalescer
from .scheduling import JOB_TIMEOUT, enqueuer
from .usage import UsageCounter
from .writes import WriteLedger


class JobQueue:
    def __init__(self, connection: redis.Redis, name: str = "cem") -> None:
        self.redis = connection
        self.name = name
        self.keys = QueueKeys.for_queue(name)
        self.rq = Queue(name, connection=connection, default_timeout=JOB_TIMEOUT)
        self.enqueue = enqueuer(self.rq)
        self.deliveries = DeliveryLog(connection, self.keys, self.enqueue)
        self.refreshes = RefreshCoalescer(connection, self.keys, self.enqueue)
        self.writes = WriteLedger(connection, self.keys, self.enqueue)
        self.budget = CallBudget(connection, self.keys)
        self.usage = UsageCounter(connection, self.keys)

    @property
    def prefix(self) -> str:
        return self.keys.prefix

    def forget_contact(self, connection_id: int, contact_id: str) -> None:
        """GDPR: drop every trace of the person from Redis, failed-job records included."""
        self.deliveries.forget(connection_id, contact_id)
        self.refreshes.forget(connection_id, contact_id)
        self.writes.forget(connection_id, contact_id)
        self._forget_failed_jobs(connection_id, contact_id)

    def _forget_failed_jobs(self, connection_id: int, contact_id: str) -> None:
        """Failed-job records keep their arguments (contact ids) for weeks: drop the ones naming the person."""
        registry = FailedJobRegistry(queue=self.rq)
        for job in Job.fetch_many(registry.get_job_ids(), connection=self.redis):
            if job is None or not job.args or job.args[0] != connection_id:
                continue
            if _names(job.args[1:], contact_id):
                registry.remove(job, delete_job=True)

    def work_waiting_besides(self, function: str, look: int = 3) -> bool:
        """One of the next ``look`` queued jobs runs something other than ``function`` (a dotted name)."""
        try:
            return any(job.func_name != function for job in self.rq.get_jobs(0, look - 1))
        except (redis.RedisError, ValueError):  # a job that no longer loads: assume nothing waits
            return False

    def depth(self) -> dict[str, int]:
        return {
            "queued": self.rq.count,
            "started": StartedJobRegistry(queue=self.rq).count,
            "scheduled": ScheduledJobRegistry(queue=self.rq).count,
            "failed": FailedJobRegistry(queue=self.rq).count,
        }


def _names(value: Any, contact_id: str) -> bool:
    """True when a job argument (ids, event dicts, nested lists) mentions the contact."""
    if isinstance(value, str):
        return value == contact_id
    if isinstance(value, dict):
        return any(_names(v, contact_id) for k, v in value.items() if k in ("object_id", "contact_ids"))
    if isinstance(value, list | tuple):
        return any(_names(v, contact_id) for v in value)
    return False
