"""How the queue's parts put a job on RQ: by dotted name, with the connector's job options."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from rq import Callback, Queue, Retry

from .keys import FAILED_JOB

FLAG_TTL = 3600  # a flag outlives no crash: a lost job never blocks a contact for more than an hour
JOB_TIMEOUT = 600
# RQ-level retries cover a worker killed mid-job (the job is then abandoned and retried) and a job that
# raised because the database or Redis went away: 1 s ... 2 min apart, about 4 minutes in all, so a
# failover or a restart is ridden out. A job that still fails becomes a dead letter (FAILED_JOB).
CRASH_RETRY = Retry(max=6, interval=[1, 5, 15, 30, 60, 120])
ON_FAILURE = Callback(FAILED_JOB)
# Nobody reads job results, and a finished job's arguments name contacts: keeping them for RQ's
# default 500 s would leave a forgotten (GDPR) person's id in Redis after `forget`.
RESULT_TTL = 0


class Enqueue(Protocol):
    def __call__(self, func: str | Any, delay: float, *args: Any, **kwargs: Any) -> None: ...


def enqueuer(rq: Queue) -> Enqueue:
    def enqueue(func: str | Any, delay: float, *args: Any, **kwargs: Any) -> None:
        """Queue ``func`` (a dotted name, or the function) now or after ``delay`` seconds."""
        if delay > 0:
            rq.enqueue_in(timedelta(seconds=delay), func, *args, retry=CRASH_RETRY, result_ttl=RESULT_TTL,
                          on_failure=ON_FAILURE, **kwargs)
        else:
            rq.enqueue(func, *args, retry=CRASH_RETRY, result_ttl=RESULT_TTL, on_failure=ON_FAILURE, **kwargs)

    return enqueue
