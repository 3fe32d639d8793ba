"""The jobs workers run: turn change events into refreshed contacts and batched writes.

    process_events   -> which contacts changed (resolving interactions to contacts)
    refresh_contacts -> read a batch of contacts from the CRM, analyse them, store the desired values
    flush_writes     -> write what changed, in the platform's largest batches

Every job is idempotent: running it twice (a retry, a duplicate delivery, a
worker killed mid-job) has the effect of running it once, because writes are
diffed against the ledger of what is already on the CRM.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis.exceptions import LockError
from rq import get_current_job
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from adapters.base import CRMAdapter, FieldUpdate, WriteResult, chunked
from adapters.errors import AdapterError, AuthenticationError, ConfigurationError
from adapters.fields import as_utc
from cem_engine import analyze
from cem_engine.model import ContactInput
from webhooks.events import CONTACT_DELETED, ChangeEvent

from .connections import NeedsReconnect, clear_needs_reconnect, list_connections, mark_needs_reconnect
from .journey_display import build_display
from .queue import WriteLedger
from .queue.refreshes import COLLECT_POLL, COLLECT_REFRESHES, REFRESH_BATCH
from .recent_reads import RecentRead
from .retry import retry_delay, will_retry
from .runtime import Runtime, get_runtime
from .store import (
    PERSONAL_DATA_TABLES,
    Activity,
    ApiUsage,
    ContactAnalysis,
    DeadLetter,
    Store,
    SyncCursor,
    WrittenValues,
    upsert,
)
from .stored_profile import storable_profile
from .writeback import changed_fields, desired_values, field_update

log = logging.getLogger("cem.jobs")


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- process_events ------------------------------------------------------------------------
def process_events(connection_id: int, events: list[dict[str, Any]], attempt: int = 1) -> dict[str, int]:
    rt = get_runtime()
    adapter: CRMAdapter | None = None  # only events that name no contact need the CRM
    stopped = False
    counts = {"events": len(events), "own_writes": 0, "deleted": 0, "refreshes": 0}
    unresolved: list[dict[str, Any]] = []
    last_error: AdapterError | None = None
    to_refresh: list[str] = []
    record_edits: set[str] = set()  # contacts named by a record-only edit
    wider: set[str] = set()  # contacts named by any other change
    latest: dict[str, datetime] = {}  # contact -> newest source change among these events
    own: list[Activity] = []
    parsed = [ChangeEvent.from_dict(e) for e in events]
    allowed = _suppression_check(rt, connection_id, parsed)
    for event in parsed:
        if event.own_write:
            counts["own_writes"] += 1
            named: list[str | None] = list(allowed(list(event.contact_ids[:1])))
            if named or not event.contact_ids:  # a forgotten person's echo is dropped without a trace
                own.append(Activity(connection_id=connection_id, contact_id=(named or [None])[0], action="skipped_own",
                                    detail=f"{event.kind} {event.object_type}:{event.object_id}"))
            continue
        if event.kind == CONTACT_DELETED:
            forget_contact(rt, connection_id, event.object_id, record_gone=True)
            counts["deleted"] += 1
            continue
        if stopped:
            continue  # the connection stopped: `connect` reconciles everything since (resume_connection)
        try:
            if adapter is None and not event.contact_ids and event.object_type != "contact":
                adapter = rt.adapter(connection_id)
            contacts = _affected_contacts(adapter, event)
        except AuthenticationError as error:
            _stop_connection(rt, connection_id, error)
            stopped = True
            continue
        except AdapterError as error:
            if not error.retryable:
                _dead_letter(rt, connection_id, None, "process_events", {"events": [event.to_dict()]}, error, attempt)
                continue
            unresolved.append(event.to_dict())
            last_error = error
            continue
        contacts = allowed(contacts)  # forgotten people stay forgotten
        for contact_id in contacts:
            if contact_id not in latest or latest[contact_id] < event.occurred_at:
                latest[contact_id] = event.occurred_at
        to_refresh.extend(contacts)
        (record_edits if event.record_only else wider).update(contacts)
    _note_source_changes(rt, connection_id, latest, own)
    counts["refreshes"] = rt.queue.refreshes.request(connection_id, to_refresh, record_only=record_edits - wider)
    if adapter is not None:
        _record_usage(rt, connection_id, adapter)
    if unresolved and last_error is not None:
        delay = retry_delay(last_error, attempt, rt.settings)
        if delay is not None:
            rt.queue.enqueue(process_events, delay, connection_id, unresolved, attempt=attempt + 1)
        else:
            _dead_letter(rt, connection_id, None, "process_events", {"events": unresolved}, last_error, attempt)
    return counts


def _suppression_check(rt: Runtime, connection_id: int, events: list[ChangeEvent]) -> Callable[[list[str]], list[str]]:
    """``allowed(ids)`` for this batch: the contacts the events name are looked up in the suppression list
    once (one query per event was most of a single-event delivery's cost); contacts found through the CRM
    (an interaction's) are looked up as they come."""
    named = list(dict.fromkeys(cid for e in events for cid in (
        *e.contact_ids, *([e.object_id] if e.object_type == "contact" else []))))
    known, visible = set(named), set(rt.suppressed.allowed(connection_id, named))

    def allowed(contact_ids: list[str]) -> list[str]:
        if all(cid in known for cid in contact_ids):
            return [cid for cid in contact_ids if cid in visible]
        return rt.suppressed.allowed(connection_id, contact_ids)

    return allowed


def _affected_contacts(adapter: CRMAdapter | None, event: ChangeEvent) -> list[str]:
    if event.contact_ids:
        return list(event.contact_ids)
    if event.object_type == "contact":
        return [event.object_id]
    assert adapter is not None
    return adapter.contacts_for(event.object_type, event.object_id)


def _note_source_changes(rt: Runtime, connection_id: int, latest: dict[str, datetime],
                         activities: list[Activity]) -> None:
    """One transaction for a whole batch of events (one per event per contact cost ~6 ms an event)."""
    if not latest and not activities:
        return
    for attempt in (1, 2):
        try:
            return _save_source_changes(rt, connection_id, latest, activities)
        except IntegrityError:
            # another worker created one of these contacts' rows first: the second pass updates it
            if attempt == 2:
                raise


def _save_source_changes(rt: Runtime, connection_id: int, latest: dict[str, datetime],
                         activities: list[Activity]) -> None:
    with rt.store.session() as session:
        session.add_all([Activity(connection_id=a.connection_id, contact_id=a.contact_id, action=a.action,
                                  detail=a.detail) for a in activities])
        states = {s.contact_id: s for s in session.scalars(select(ContactAnalysis).where(
            ContactAnalysis.connection_id == connection_id,
            ContactAnalysis.contact_id.in_(list(latest))))} if latest else {}
        for contact_id, occurred_at in latest.items():
            state = states.get(contact_id)
            if state is None:
                state = ContactAnalysis(connection_id=connection_id, contact_id=contact_id, profile={}, desired={})
                session.add(state)
            if state.source_changed_at is None or as_utc(state.source_changed_at) < occurred_at:
                state.source_changed_at = occurred_at


# -- drain_deliveries ----------------------------------------------------------------------
DRAIN_BATCH = 500  # events per process_events pass: one DB transaction, one refresh request
DRAIN_ROUNDS = 20  # bound per job; a longer backlog queues the next drain job


def drain_deliveries(connection_id: int) -> int:
    """Process the events intake put in the connection's inbox, oldest first, in claimed chunks.

    A chunk leaves the inbox into a claim list named after this worker and is deleted only once
    processed: put back if processing fails, put back by a live worker if this one dies. While more
    than a chunk waits, one more drain job is queued so a second worker drains beside this one.
    """
    rt = get_runtime()
    inbox = rt.queue.deliveries
    inbox.drain_started(connection_id)
    job = get_current_job()
    owner = WriteLedger.lock_token(job.worker_name if job is not None else None)
    drained = 0
    for _ in range(DRAIN_ROUNDS):
        claimed = inbox.claim(connection_id, DRAIN_BATCH, owner)
        if claimed is None:
            break
        claim, events = claimed
        if inbox.backlog(connection_id):
            inbox.request_drain(connection_id)  # fan out: the next chunk need not wait for this one
        try:
            if events:
                process_events(connection_id, events)
        except Exception:
            inbox.unclaim(connection_id, claim)  # the store or the CRM is down: the inbox keeps them
            inbox.request_drain(connection_id, delay=5.0)
            raise
        inbox.release(claim)
        drained += len(events)
    if inbox.backlog(connection_id):
        inbox.request_drain(connection_id)
    return drained


# -- collect_refreshes -------------------------------------------------------------------
def collect_refreshes(connection_id: int) -> int:
    """Hand the contacts waiting for a refresh out in batch jobs (see RefreshCoalescer.request)."""
    rt = get_runtime()
    coalescer = rt.queue.refreshes
    try:
        adapter = rt.adapter(connection_id)
        batch, pace = adapter.read_batch_size, adapter.refresh_interval()
    except NeedsReconnect:
        batch, pace = REFRESH_BATCH, 0.0  # the refresh jobs return at once; `connect` reconciles
    left = coalescer.window_left(connection_id, pace, batch)
    if left > 0:  # the fill window is open (or the last round too recent): wait a little, then let other work go first
        if not rt.queue.work_waiting_besides(COLLECT_REFRESHES):  # sleeping ahead of queued rounds idled the CRM
            time.sleep(min(left, COLLECT_POLL))
        if coalescer.window_left(connection_id, pace, batch) > 0:
            coalescer.collect_later(connection_id)
            return 0
    return coalescer.hand_out(connection_id, batch=batch)


# -- refresh_contacts ---------------------------------------------------------------------
def refresh_contacts(connection_id: int, contact_ids: list[str], attempt: int = 1) -> dict[str, int]:
    rt = get_runtime()
    record_only = rt.queue.refreshes.started(connection_id, contact_ids)
    counts = {"contacts": len(contact_ids), "gone": 0, "unchanged": 0, "dirty": 0, "forgotten": 0}
    try:
        adapter = rt.adapter(connection_id)
    except NeedsReconnect:
        return counts  # `connect` reconciles everything that changed meanwhile (resume_connection)
    allowed = rt.suppressed.allowed(connection_id, contact_ids)  # reconcile, backfill and replay come here too
    counts["forgotten"] = len(contact_ids) - len(allowed)
    contact_ids = allowed
    if not contact_ids:
        return counts
    read_at = utcnow()  # a result may replace only the analysis of an older read (see _stale)
    reuse = rt.recent_reads.usable(connection_id, [cid for cid in contact_ids if cid in record_only])
    try:
        found, bases = _read_contacts(adapter, contact_ids, reuse)
    except AdapterError as error:
        _record_usage(rt, connection_id, adapter)
        _retry_or_dead_letter(rt, connection_id, contact_ids, error, attempt)
        return counts
    _record_usage(rt, connection_id, adapter)
    for contact_id in contact_ids:
        if contact_id not in found:
            forget_contact(rt, connection_id, contact_id, record_gone=True)  # deleted in the CRM: keep nothing
            counts["gone"] += 1
    now = utcnow()
    dirty: list[str] = []
    reread: list[str] = []  # results that may not be stored: read again in full
    stored: dict[str, ContactInput] = {}
    with rt.store.session() as session:
        # Row locks (PostgreSQL): two refreshes of one contact commit one after the other, and the
        # second sees the first's read time. SQLite serialises writers anyway.
        states = {s.contact_id: s for s in session.scalars(select(ContactAnalysis).where(
            ContactAnalysis.connection_id == connection_id,
            ContactAnalysis.contact_id.in_(list(found))).with_for_update())}
        ledger = {w.contact_id: w.values for w in session.scalars(select(WrittenValues).where(
            WrittenValues.connection_id == connection_id, WrittenValues.contact_id.in_(list(found))))}
        for contact_id, data in found.items():
            state = states.get(contact_id)
            verdict = _stale(state, read_at, bases.get(contact_id))
            if verdict is not None:
                counts["stale"] = counts.get("stale", 0) + 1
                if verdict == REREAD:
                    reread.append(contact_id)
                continue
            profile = analyze(data, now=now, config=rt.engine_config)
            desired = desired_values(profile, now)
            if state is None:
                state = ContactAnalysis(connection_id=connection_id, contact_id=contact_id)
                session.add(state)
            display = build_display(data, rt.engine_config, (state.profile or {}).get("display"))
            base = bases.get(contact_id)
            state.profile = {**storable_profile(_jsonable(profile.to_dict()), rt.engine_config.reason.quote_chars),
                             "display": _jsonable(display),
                             HISTORY_READ_AT: (base.history_read_at if base else read_at).isoformat()}
            state.desired = desired
            state.analyzed_at = now
            state.read_at = read_at
            stored[contact_id] = data
            if changed_fields(desired, ledger.get(contact_id)):
                dirty.append(contact_id)
            else:
                session.add(Activity(connection_id=connection_id, contact_id=contact_id, action="unchanged",
                                     detail="analysis gave the values already on the record"))
    for contact_id, data in stored.items():  # committed: the next record-only edit may build on these
        base = bases.get(contact_id)
        if base is not None:
            rt.recent_reads.put(connection_id, contact_id, base.with_record(data.contact, read_at))
        else:
            rt.recent_reads.remember(connection_id, contact_id, data, read_at)
    counts["dirty"], counts["unchanged"] = len(dirty), len(stored) - len(dirty)
    counts["record_only"] = len(bases)
    if dirty:
        rt.queue.writes.mark_dirty(connection_id, dirty)
        rt.queue.writes.request_flush(connection_id)
    if reread:
        rt.queue.refreshes.request(connection_id, reread)  # full scope
    rt.queue.refreshes.finished(connection_id, list(found))  # their settle time starts now (pacing)
    return counts


HISTORY_READ_AT = "history_read_at"  # in ContactAnalysis.profile: when the analysed interactions were read
DROP, REREAD = "drop", "reread"


def _read_contacts(adapter: CRMAdapter, contact_ids: list[str],
                   reuse: dict[str, RecentRead]) -> tuple[dict[str, ContactInput], dict[str, RecentRead]]:
    """Read the contacts: those in ``reuse`` (only record edits since a recent read) as their record alone,
    with the history read before, when the platform can read records alone; the rest in full.
    Returns what was found, and for each contact built on an earlier read, that read."""
    records = adapter.fetch_contact_records(list(reuse)) if reuse else None
    if records is None:
        reuse = {}
    rest = [cid for cid in contact_ids if cid not in reuse]
    found = adapter.fetch_contacts(rest) if rest else {}  # all record-only: no full read (HubSpot's thread pool)
    bases: dict[str, RecentRead] = {}
    for contact_id, entry in reuse.items():
        if records is not None and contact_id in records:  # missing: deleted in the CRM
            found[contact_id] = ContactInput(contact=records[contact_id], deals=entry.data.deals,
                                             interactions=entry.data.interactions)
            bases[contact_id] = entry
    return found, bases


def _stale(state: ContactAnalysis | None, read_at: datetime, base: RecentRead | None) -> str | None:
    """Whether a result read at ``read_at`` may replace the stored analysis: None if it may; DROP when the
    stored one is newer in every part; REREAD when neither is wholly newer (read the contact again in full)."""
    stored_at = as_utc(state.read_at) if state is not None and state.read_at is not None else None
    if base is not None:
        # Built on an earlier read's history: only valid on top of the very analysis that read produced,
        # or another worker's newer read (maybe of a new interaction) would be overwritten with older history.
        return None if stored_at == base.read_at else REREAD
    if stored_at is None or stored_at <= read_at:
        return None
    # A refresh that read the CRM after us has committed already (we waited on the CRM meanwhile). If it
    # reused an older history than ours, our read may hold an interaction it lacks.
    history = (state.profile or {}).get(HISTORY_READ_AT) if state is not None else None
    return REREAD if history and as_utc(datetime.fromisoformat(history)) < read_at else DROP


# -- flush_writes -------------------------------------------------------------------------
def flush_writes(connection_id: int, attempt: int = 1, shard: int | None = None) -> dict[str, int]:
    """Write the dirty contacts of one shard of the connection's write ledger (and of any free shards, up
    to a full batch). ``shard=None`` (a job queued by a release before sharding) queues one per shard."""
    rt = get_runtime()
    ledger = rt.queue.writes
    if shard is None:
        ledger.request_flush(connection_id, attempt=attempt)
        return {"shards": 1}
    # Cleared first, whatever happens next: a flag left set without a queued job would stall
    # this shard's writes until the flag expires.
    ledger.flush_started(connection_id, shard)
    job = get_current_job()
    token = ledger.lock_token(job.worker_name if job is not None else None)
    lock = ledger.flush_lock(connection_id, shard)
    if not lock.acquire(token=token):
        # Another flush holds this shard: it checks the shard again after letting go (see _flush).
        return {"busy": 1}
    held, locks = [shard], [lock]
    try:
        counts, retry = _flush(rt, ledger, connection_id, held, locks, token, attempt)
    except Exception:
        with contextlib.suppress(Exception):  # RQ retries this job (our shard); the shards we took need jobs too
            for one in held[1:]:
                ledger.request_flush(connection_id, one, delay=5.0)
        raise
    finally:
        for taken in locks:
            with contextlib.suppress(LockError):  # expired: the job outlived its timeout
                taken.release()
    if counts.get("stopped") or counts.get("auth"):
        return counts  # everything stays marked dirty for the flush after `connect` (resume_connection)
    # After letting go, and for every shard (a flush that found a shard busy returned on the strength of
    # this check, and the retry of a flush killed mid-way may not take every shard it held): nothing
    # marked dirty waits without a queued flush. Shards whose flush is queued already keep that one.
    for one in sorted(ledger.dirty_counts(connection_id)):
        if retry is not None and one in held:
            ledger.request_flush(connection_id, one, delay=retry[0], attempt=retry[1])
        else:
            ledger.request_flush(connection_id, one)
    return counts


def _flush(rt: Runtime, ledger: WriteLedger, connection_id: int, held: list[int], locks: list[Any], token: str,
           attempt: int) -> tuple[dict[str, int], tuple[float, int] | None]:
    """Write what the held shards await; returns the counts and (delay, attempt) of a backoff retry."""
    try:
        adapter = rt.adapter(connection_id)
    except NeedsReconnect:
        return {"stopped": 1}, None  # the contacts stay marked dirty; `connect` flushes them (resume_connection)
    batch = adapter.write_batch_size
    locks += ledger.take_more_shards(connection_id, held, want=batch, token=token)
    contact_ids = ledger.peek_dirty(connection_id, held, limit=batch * 10)
    counts = {"contacts": len(contact_ids), "written": 0, "unchanged": 0, "failed": 0, "calls": 0,
              "shards": len(held)}
    if not contact_ids:
        return counts, None
    now = utcnow()
    updates, changes = _pending_updates(rt, connection_id, contact_ids, now)
    updates = _skip_already_applied(rt, ledger, adapter, connection_id, updates, changes, now)
    pending = {u.contact_id for u in updates}
    ledger.written(connection_id, [cid for cid in contact_ids if cid not in pending])
    counts["unchanged"] = len(contact_ids) - len(updates)
    retry_error: AdapterError | None = None
    for chunk in chunked(updates, batch):
        ids = [u.contact_id for u in chunk]
        ledger.sending(connection_id, ids)
        try:
            result, left_out = _write_present_fields(adapter, chunk)
        except AdapterError as error:
            ledger.sent(connection_id, ids)  # an error answer: the CRM did not apply it
            counts["failed"] += len(ids)
            if isinstance(error, AuthenticationError):
                _stop_connection(rt, connection_id, error)
                return {**counts, "auth": 1}, None  # everything stays marked dirty for the flush after `connect`
            if will_retry(error, attempt, rt.settings):
                retry_error = error
                break  # the CRM is struggling: stop here, the rest stays marked for the retry
            for contact_id in ids:
                _dead_letter(rt, connection_id, contact_id, "write", {"contact_id": contact_id}, error, attempt)
            ledger.written(connection_id, ids)
            continue
        counts["calls"] += result.calls
        counts["written"] += len(result.succeeded)
        counts["failed"] += len(result.failed)
        if left_out:
            _report_missing_fields(rt, adapter, connection_id, result.succeeded, changes, left_out, attempt)
        _record_written(rt, connection_id, result.succeeded, changes, now)
        ledger.sent(connection_id, ids)
        finished = list(result.succeeded)
        for contact_id, error in result.failed.items():
            if will_retry(error, attempt, rt.settings):
                retry_error = error  # stays marked dirty for the retry
                continue
            _dead_letter(rt, connection_id, contact_id, "write", {"contact_id": contact_id}, error, attempt)
            finished.append(contact_id)
        ledger.written(connection_id, finished)
    _record_usage(rt, connection_id, adapter)
    delay = retry_delay(retry_error, attempt, rt.settings) if retry_error is not None else None
    if delay is not None:
        log.warning("writes for connection %s deferred %.1fs (attempt %d): %s", connection_id, delay, attempt,
                    type(retry_error).__name__)
        return counts, (delay, attempt + 1)
    return counts, None


def _write_present_fields(adapter: CRMAdapter, chunk: Sequence[FieldUpdate]) -> tuple[WriteResult, set[str]]:
    """Write ``chunk``; when the CRM says CEM fields do not exist (deleted after install), write the other
    fields without them rather than hold every field of those contacts. Returns the result and the keys
    left out."""
    left_out: set[str] = set()
    for _ in range(len(adapter.fields) + 1):  # each round can only reveal more missing fields
        pending = [_without(u, left_out) for u in chunk]
        try:
            result = adapter.write_fields(pending)
        except AdapterError as error:
            gone = set(adapter.missing_fields(error)) - left_out
            if not gone:
                raise
            left_out |= gone
            continue
        retry = {cid for cid, error in result.failed.items() if set(adapter.missing_fields(error)) - left_out}
        if not retry:
            return result, left_out
        for cid in retry:
            left_out |= set(adapter.missing_fields(result.failed.pop(cid)))
        again, more = _write_present_fields(adapter, [_without(u, left_out) for u in chunk if u.contact_id in retry])
        result.succeeded += again.succeeded
        result.failed.update(again.failed)
        result.calls += again.calls
        return result, left_out | more
    raise AssertionError("unreachable: every round leaves out at least one more field")


def _without(update: FieldUpdate, keys: set[str]) -> FieldUpdate:
    return update if not keys else FieldUpdate(update.contact_id, {k: v for k, v in update.values.items()
                                                                   if k not in keys})


def _report_missing_fields(rt: Runtime, adapter: CRMAdapter, connection_id: int, written: Sequence[str],
                           changes: dict[str, dict[str, Any]], left_out: set[str], attempt: int) -> None:
    """The other fields are on the record; the values of missing fields wait as dead letters (replay after
    install), and the ledger records only what was written."""
    labels = ", ".join(f"{spec.label} ({adapter.native_field_name(spec)})" for spec in adapter.fields
                       if spec.key in left_out)
    error = ConfigurationError(f"Field {labels} is missing in {adapter.label}: run `cem-connector install "
                               f"{adapter.platform}`, then `cem-connector replay`.", platform=adapter.platform)
    for contact_id in written:
        missed = sorted(set(changes.get(contact_id, {})) & left_out)
        if missed:
            changes[contact_id] = {k: v for k, v in changes[contact_id].items() if k not in left_out}
            _dead_letter(rt, connection_id, contact_id, "write", {"contact_id": contact_id, "fields": missed},
                         error, attempt)


def _skip_already_applied(rt: Runtime, ledger: WriteLedger, adapter: CRMAdapter, connection_id: int,
                          updates: list[Any], changes: dict[str, dict[str, Any]], now: datetime) -> list[Any]:
    """A worker killed during a write leaves the CRM holding values our ledger never recorded: read
    those contacts back and record the ones already applied instead of writing them a second time."""
    uncertain = ledger.in_flight(connection_id, [u.contact_id for u in updates])
    if not uncertain:
        return updates
    try:
        on_crm = adapter.read_fields(uncertain)
    except AdapterError:
        return updates  # cannot tell: writing the same values again is harmless, only not minimal
    applied = [cid for cid in uncertain
               if cid in on_crm and not changed_fields(changes[cid], _jsonable(on_crm[cid]))]
    _record_written(rt, connection_id, applied, changes, now)
    ledger.written(connection_id, applied)
    ledger.sent(connection_id, uncertain)
    log.info("%d of %d contacts of an interrupted write were already on the CRM", len(applied), len(uncertain))
    return [u for u in updates if u.contact_id not in set(applied)]


def _pending_updates(rt: Runtime, connection_id: int, contact_ids: list[str], now: datetime):  # type: ignore[no-untyped-def]
    updates = []
    changes: dict[str, dict[str, Any]] = {}
    with rt.store.session() as session:
        states = {s.contact_id: s for s in session.scalars(select(ContactAnalysis).where(
            ContactAnalysis.connection_id == connection_id, ContactAnalysis.contact_id.in_(contact_ids)))}
        ledger = {w.contact_id: w for w in session.scalars(select(WrittenValues).where(
            WrittenValues.connection_id == connection_id, WrittenValues.contact_id.in_(contact_ids)))}
    for contact_id in contact_ids:
        state = states.get(contact_id)
        if state is None or not state.desired:
            continue  # forgotten (GDPR) or never analysed: nothing to write
        written = ledger.get(contact_id)
        change = changed_fields(state.desired, written.values if written else None)
        if change:
            changes[contact_id] = change
            updates.append(field_update(contact_id, change, now))
    return updates, changes


def _record_written(rt: Runtime, connection_id: int, contact_ids: list[str], changes: dict[str, dict[str, Any]],
                    now: datetime) -> None:
    if not contact_ids:
        return
    with rt.store.session() as session:
        # one query for the batch (a get per contact was a third of a flush's time)
        rows = {w.contact_id: w for w in session.scalars(select(WrittenValues).where(
            WrittenValues.connection_id == connection_id, WrittenValues.contact_id.in_(list(contact_ids))))}
        for contact_id in contact_ids:
            row = rows.get(contact_id)
            if row is None:
                row = rows[contact_id] = WrittenValues(connection_id=connection_id, contact_id=contact_id, values={},
                                                       write_count=0)
                session.add(row)
            row.values = {**(row.values or {}), **changes.get(contact_id, {})}
            row.written_at = now
            row.write_count = (row.write_count or 0) + 1
            session.add(Activity(connection_id=connection_id, contact_id=contact_id, action="written",
                                 detail=", ".join(sorted(changes.get(contact_id, {})))))


# -- GDPR -----------------------------------------------------------------------------------
def forget_contact(rt: Runtime, connection_id: int, contact_id: str, *, record_gone: bool = False) -> int:
    """Remove everything stored about one person; returns the rows deleted.

    While the CRM record exists (``forget`` by an admin) the person joins the suppression list, so no
    later webhook, reconcile or backfill brings them back; once the record is gone the entry goes too."""
    if record_gone:
        rt.suppressed.remove(connection_id, [contact_id])
    else:
        rt.suppressed.add(connection_id, contact_id)
    removed = 0
    with rt.store.session() as session:
        for table in PERSONAL_DATA_TABLES:
            result = session.execute(delete(table).where(table.connection_id == connection_id,
                                                         table.contact_id == contact_id))
            removed += result.rowcount or 0
    rt.queue.forget_contact(connection_id, contact_id)
    rt.recent_reads.drop(connection_id, contact_id)
    log.info("forgot contact %s on connection %s (%d rows)", contact_id, connection_id, removed)
    return removed


# -- failures ---------------------------------------------------------------------------------
def _retry_or_dead_letter(rt: Runtime, connection_id: int, contact_ids: list[str], error: AdapterError,
                          attempt: int) -> None:
    """A refresh that failed: try again later with backoff, or dead-letter each contact."""
    if isinstance(error, AuthenticationError):
        _stop_connection(rt, connection_id, error)
        return
    delay = retry_delay(error, attempt, rt.settings)
    if delay is not None:
        rt.queue.enqueue(refresh_contacts, delay, connection_id, contact_ids, attempt=attempt + 1)
        log.warning("refresh of %d contacts on connection %s retried in %.1fs (attempt %d): %s", len(contact_ids),
                    connection_id, delay, attempt, type(error).__name__)
        return
    for contact_id in contact_ids:
        _dead_letter(rt, connection_id, contact_id, "refresh", {"contact_id": contact_id}, error, attempt)


def _stop_connection(rt: Runtime, connection_id: int, error: AdapterError) -> None:
    """The CRM refused the credentials: stop the connection (status needs_reconnect, one message) rather
    than fail every job, log in again per batch (Salesforce locks the user out) and dead-letter every event."""
    if isinstance(error, NeedsReconnect):
        return
    if mark_needs_reconnect(rt.store, connection_id, str(error)):
        rt.connection_changed(connection_id)  # other workers' cached adapters stop logging in at their next job
        _activity(rt, connection_id, None, "needs_reconnect", f"{type(error).__name__}: {error}"[:1000])
        log.error("connection %s stopped: the CRM refused its credentials (%s); reconnect it with "
                  "`cem-connector connect`", connection_id, type(error).__name__)


def resume_connection(rt: Runtime, connection_id: int) -> bool:
    """After `connect` with working credentials: clear the stop, write what waited, and reconcile everything
    that changed since a little before the stop (webhooks that came meanwhile were acknowledged, not applied)."""
    rt.connection_changed(connection_id)  # `connect` / OAuth saved new credentials: no worker keeps the old ones
    stopped_at = clear_needs_reconnect(rt.store, connection_id)
    if stopped_at is None:
        return False
    rt.queue.enqueue(reconcile_connection, 0, connection_id,
                     since_iso=(stopped_at - RECONCILE_FIRST_WINDOW).isoformat())
    rt.queue.writes.request_flush(connection_id)
    _activity(rt, connection_id, None, "reconnected", "credentials accepted again; reconciling since the stop")
    return True


def _dead_letter(rt: Runtime, connection_id: int, contact_id: str | None, job: str, payload: dict[str, Any],
                 error: Exception, attempt: int) -> None:
    with rt.store.session() as session:
        session.add(DeadLetter(connection_id=connection_id, contact_id=contact_id, job=job, payload=payload,
                               error=f"{type(error).__name__}: {error}"[:2000], attempts=attempt))
        session.add(Activity(connection_id=connection_id, contact_id=contact_id, action="failed",
                             detail=f"{job}: {type(error).__name__}"))
    log.error("dead-lettered %s for connection %s contact %s: %s", job, connection_id, contact_id,
              type(error).__name__)


def replay_dead_letters(rt: Runtime, *, connection_id: int | None = None, letter_id: int | None = None) -> int:
    """Replay the dead letters not replayed yet (all, one connection's, or one); returns how many."""
    replayed = 0
    with rt.store.session() as session:
        query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        if connection_id is not None:
            query = query.where(DeadLetter.connection_id == connection_id)
        if letter_id is not None:
            query = query.where(DeadLetter.id == letter_id)
        for letter in session.scalars(query):
            replay_dead_letter(rt, letter)
            letter.replayed_at = utcnow()
            replayed += 1
    return replayed


def job_failed(job: Any, connection: Any, error_type: Any, error: BaseException | None, traceback: Any) -> None:
    """RQ failure callback: a job out of retries (the database or Redis away for minutes, a bug) becomes a
    dead letter that `status` shows and `replay` puts back. If the database is still away, the job stays
    in RQ's failed list, which `status` counts and `replay` requeues as well."""
    if job.should_retry or not job.args:
        return  # RQ tries it again later
    try:
        rt = get_runtime()
        with rt.store.session() as session:
            letter = DeadLetter(connection_id=int(job.args[0]), contact_id=None, job=f"rq:{job.func_name}",
                                payload={"args": _jsonable(list(job.args)), "kwargs": _jsonable(dict(job.kwargs))},
                                error=f"{getattr(error_type, '__name__', 'Error')}: {error}"[:2000],
                                attempts=int(job.retries_left or 0) + 1)
            session.add(letter)
            session.flush()
            letter_id = letter.id
        job.meta["dead_letter"] = letter_id  # replay requeues the letter, not the failed-list entry too
        job.save_meta()
    except Exception:  # the database is still away: the failed list keeps the job
        log.exception("job %s failed for good and could not be dead-lettered; it stays in RQ's failed list", job.id)


def replay_failed_jobs(rt: Runtime) -> int:
    """Requeue the jobs in RQ's failed list that never became dead letters; returns how many."""
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    registry = FailedJobRegistry(queue=rt.queue.rq)
    requeued = 0
    for job in Job.fetch_many(registry.get_job_ids(), connection=rt.redis):
        if job is None:
            continue
        if job.meta.get("dead_letter"):
            registry.remove(job, delete_job=True)  # its dead letter is replayed instead
            continue
        registry.requeue(job.id)
        requeued += 1
    return requeued


def replay_dead_letter(rt: Runtime, letter: DeadLetter) -> None:
    """Put a dead-lettered job back on the queue with a fresh attempt count."""
    if letter.job in ("write", "refresh") and letter.contact_id:
        # pending flags may be stale after a crash; a direct job always runs
        rt.queue.enqueue(refresh_contacts, 0, letter.connection_id, [letter.contact_id])
    elif letter.job == "process_events":
        rt.queue.enqueue(process_events, 0, letter.connection_id, letter.payload.get("events", []))
    elif letter.job == "reconcile_connection":
        rt.queue.enqueue(reconcile_connection, 0, letter.connection_id)
    elif letter.job.startswith("rq:"):  # a job that ran out of RQ retries (job_failed)
        rt.queue.enqueue(letter.job[3:], 0, *letter.payload.get("args", []), **letter.payload.get("kwargs", {}))


# -- bookkeeping ------------------------------------------------------------------------------
def _activity(rt: Runtime, connection_id: int, contact_id: str | None, action: str, detail: str) -> None:
    with rt.store.session() as session:
        session.add(Activity(connection_id=connection_id, contact_id=contact_id, action=action, detail=detail))


def _record_usage(rt: Runtime, connection_id: int, adapter: CRMAdapter) -> None:
    """Count the adapter's new calls in Redis (one round trip); every FLUSH_SECONDS a job adds them to
    the table (see connector/queue/usage.py for what a data loss can cost)."""
    usage = adapter.api_usage() or {}
    calls = rt.new_api_calls(connection_id, adapter, int(usage.get("calls", 0) or 0))
    if not calls and not usage:
        return
    limits = _jsonable({k: v for k, v in usage.items() if k != "calls"})
    if rt.queue.usage.add(connection_id, calls, limits, date.today()):
        flush_api_usage(rt, connection_id)


def flush_api_usage(rt: Runtime, connection_id: int | None = None) -> int:
    """Add the calls counted in Redis to the ``api_usage`` table (one connection's, or every one's when a
    worker shuts down); returns the calls added. A flush that fails puts its counts back."""
    added = 0
    for one in [connection_id] if connection_id is not None else rt.queue.usage.counted_connections():
        counts, limits = rt.queue.usage.take(one)
        if not counts:
            continue
        try:
            add_api_usage_days(rt.store, one, counts, limits)
        except Exception:
            rt.queue.usage.put_back(one, counts)
            raise
        added += sum(counts.values())
    return added


def add_api_usage(store: Store, connection_id: int, calls: int, limits: dict[str, Any]) -> None:
    """Count ``calls`` for today (see add_api_usage_days)."""
    add_api_usage_days(store, connection_id, {date.today(): calls}, limits)


def add_api_usage_days(store: Store, connection_id: int, counts: dict[date, int],
                       limits: dict[str, Any] | None) -> None:
    """Add ``counts`` (day -> calls) in one transaction, one upsert per day: workers counting at the same
    moment add up instead of both inserting the day's row (a primary-key violation with get-then-insert).
    The limits the CRM last reported go on the latest day's row."""
    latest = max(counts)
    with store.session() as session:
        for day, calls in sorted(counts.items()):
            keep = limits if day == latest and limits is not None else None
            update: dict[str, Any] = {"calls": ApiUsage.calls + calls}
            if keep is not None:
                update["limits"] = keep
            session.execute(upsert(store, ApiUsage).values(
                connection_id=connection_id, day=day, calls=calls, limits=keep or {}).on_conflict_do_update(
                index_elements=["connection_id", "day"], set_=update))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# -- reconcile ------------------------------------------------------------------------------
RECONCILE_OVERLAP = timedelta(minutes=5)  # clocks and search indexes lag; re-reading a little is cheap
RECONCILE_FIRST_WINDOW = timedelta(days=1)


def reconcile_all() -> int:
    """Reconcile every active connection over the full window (Redis lost its queued work)."""
    rt = get_runtime()
    rows = [row for row in list_connections(rt.store) if row.active]
    for row in rows:
        rt.queue.enqueue(reconcile_connection, 0, row.id, full_window=True)
    return len(rows)


def reconcile_connection(connection_id: int, attempt: int = 1, full_window: bool = False,
                         since_iso: str | None = None) -> int:
    """Refresh every contact changed since the last round, or whose interactions, cases or deals changed
    (activities do not touch the contact record), to heal missed webhooks. ``full_window``: go back
    RECONCILE_FIRST_WINDOW whatever the cursor says (after Redis lost its queued work); ``since_iso``: from
    that moment (after a stopped connection was reconnected)."""
    rt = get_runtime()
    try:
        adapter = rt.adapter(connection_id)
    except NeedsReconnect:
        return 0
    started = utcnow()
    with rt.store.session() as session:
        cursor = session.get(SyncCursor, (connection_id, "reconcile"))
        last = as_utc(cursor.since) if cursor and cursor.since else None
    since = last - RECONCILE_OVERLAP if last and not full_window else started - RECONCILE_FIRST_WINDOW
    if since_iso:
        since = min(since, datetime.fromisoformat(since_iso))
    queued = 0
    try:
        for page in adapter.iter_contacts(modified_since=since):
            queued += rt.queue.refreshes.request(connection_id, page.contact_ids)
        queued += rt.queue.refreshes.request(connection_id, adapter.contacts_with_changed_interactions(since))
    except AdapterError as error:
        _record_usage(rt, connection_id, adapter)
        if isinstance(error, AuthenticationError):
            _stop_connection(rt, connection_id, error)
            return queued
        delay = retry_delay(error, attempt, rt.settings)
        if delay is not None:
            rt.queue.enqueue(reconcile_connection, delay, connection_id, attempt=attempt + 1, full_window=full_window,
                             since_iso=since_iso)
            return queued
        _dead_letter(rt, connection_id, None, "reconcile_connection", {}, error, attempt)
        return queued
    with rt.store.session() as session:
        cursor = session.get(SyncCursor, (connection_id, "reconcile"))
        if cursor is None:
            cursor = SyncCursor(connection_id=connection_id, kind="reconcile", processed=0)
            session.add(cursor)
        cursor.since = started
        cursor.processed = (cursor.processed or 0) + queued
        cursor.status = "done"
    _record_usage(rt, connection_id, adapter)
    return queued
