"""Read the next refresh batch while this one is analysed, so one worker keeps the CRM budget busy.

A worker read a batch, analysed it (CPU, the engine), stored it, ran whatever jobs came next, and only
then read again: the calls stopped meanwhile, and at a CRM's rate limit the rolling window frees its
slots as slowly as they were spent, so every later window inherited the gaps (bench.budget,
bench.backfill). Now, once ``refresh_contacts`` has its own batch in hand, it starts reading the next
refresh job queued for the same connection on one background thread; when this worker runs that job,
it takes the read instead of reading again.

Nothing is lost or done twice, because the job stays on the queue until it runs: a worker that dies
mid-prefetch leaves it there for any worker to run with a fresh read, and a job that another worker
runs is simply read again there (calls spent twice, the same result). The prefetch clears the
contacts' pending flags when its read starts, as the job itself would, so a change made after that
moment queues another refresh. The job filters the result again for people forgotten meanwhile.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rq.job import Job

from cem_engine.model import ContactInput

from .queue.keys import REFRESH_CONTACTS

log = logging.getLogger("cem.prefetch")

PEEK = 20  # queued jobs looked at for the connection's next refresh (the queue is FIFO)

# One read ahead per worker process: enough to overlap reading with analysing, and a wasted read
# (the job ran elsewhere) costs at most one batch of calls.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cem-prefetch")
_lock = threading.Lock()


@dataclass(frozen=True)
class Prefetch:
    job_id: str
    connection_id: int
    contact_ids: frozenset[str]
    read_at: datetime  # when the read started: the result may replace only older analyses
    result: Future[dict[str, ContactInput]]


_ahead: Prefetch | None = None


def take(job_id: str | None, connection_id: int, contact_ids: list[str]) -> Prefetch | None:
    """The read started ahead for this job, if this worker started one for it."""
    global _ahead
    with _lock:
        ahead = _ahead
        if ahead is None or job_id is None or ahead.job_id != job_id:
            return None
        _ahead = None
    if ahead.connection_id != connection_id or not set(contact_ids) <= ahead.contact_ids:
        return None
    return ahead


def start_next(rt: Any, connection_id: int, current_job_id: str | None) -> Prefetch | None:
    """Start reading the connection's next queued refresh job, unless a read ahead is still running.

    Reading ahead only saves time: when it cannot start (Redis, the store or the connection away), the
    job runs on and the next job reads for itself."""
    try:
        return _start_next(rt, connection_id, current_job_id)
    except Exception as error:
        log.warning("no read ahead for connection %s: %s", connection_id, type(error).__name__)
        return None


def _start_next(rt: Any, connection_id: int, current_job_id: str | None) -> Prefetch | None:
    global _ahead
    with _lock:
        if _ahead is not None and not _ahead.result.done():
            return None
    job = _next_refresh(rt, connection_id, current_job_id)
    if job is None:
        return None
    contact_ids = rt.suppressed.allowed(connection_id, list(job.args[1]))
    if not contact_ids:
        return None
    adapter = rt.adapter(connection_id)
    rt.queue.refreshes.started(connection_id, contact_ids)  # a change from now on queues another refresh
    ahead = Prefetch(job.id, connection_id, frozenset(contact_ids), datetime.now(UTC),
                     _executor.submit(adapter.fetch_contacts, contact_ids))
    with _lock:
        _ahead = ahead  # an earlier read nobody took (its job ran elsewhere) is dropped
    return ahead


def _next_refresh(rt: Any, connection_id: int, current_job_id: str | None) -> Job | None:
    ids = [i for i in rt.queue.rq.get_job_ids(0, PEEK) if i != current_job_id]
    for job in Job.fetch_many(ids, connection=rt.redis):
        if (job is not None and job.func_name == REFRESH_CONTACTS and len(job.args) >= 2
                and job.args[0] == connection_id and job.args[1]):
            return job
    return None
