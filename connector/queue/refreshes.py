"""The refresh coalescer: one refresh per contact however many events arrive, handed out in batches."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

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
INF = float("inf")
COLLECT_POLL = 0.2  # a collector that finds the window open waits at most this long, then queues itself again
# A contact whose refresh finished less than this long ago waits (settles) before its next one, unless a round
# goes anyway and has room for it (a round costs the same whether it holds 3 contacts or 100). A contact
# changed 200 times a minute is then read about once per SETTLE instead of once per FILL_WINDOW: at a
# steady 200 events/s over 100 contacts, 2 rounds instead of 4 (bench.calls). New contacts keep the
# short window, so the first field still shows within about FILL_WINDOW plus the refresh.
SETTLE = 5.0
# The pending flag's value: what the next refresh must read (RefreshCoalescer.request).
RECORD, FULL = "r", "f"


class RefreshCoalescer:
    def __init__(self, connection: redis.Redis, keys: QueueKeys, enqueue: Enqueue) -> None:
        self.redis, self.keys, self.enqueue = connection, keys, enqueue

    def request(self, connection_id: int, contact_ids: Sequence[str], record_only: Collection[str] = ()) -> int:
        """Queue one refresh per contact however many events arrive before it runs.

        New contacts wait in ``waiting:<conn>`` for one collector job, queued FILL_WINDOW after the
        first of them, which hands them out in the adapter's batch size: CRMs that send one webhook
        per record (Dataverse) still get batch reads, because everything that arrived while the
        collector waited goes together.
        ``record_only``: those of the contacts whose change was to their own record's fields only
        (ChangeEvent.record_only). The pending flag keeps the scope: RECORD while every change since the
        last read was such an edit, FULL as soon as one was not (it may have moved interactions or deals).
        Returns how many contacts were newly queued.
        """
        pipe = self.redis.pipeline(transaction=False)
        unique = list(dict.fromkeys(contact_ids))
        for contact_id in unique:
            key = self.keys.pending(connection_id, contact_id)
            scope = RECORD if contact_id in record_only else FULL
            pipe.set(key, scope, nx=True, ex=FLAG_TTL)
            if scope == FULL:
                pipe.set(key, FULL, xx=True, keepttl=True)  # a waiting record-only refresh widens to a full one
        answers = iter(pipe.execute())
        fresh = []
        for contact_id in unique:
            if next(answers):
                fresh.append(contact_id)
            if contact_id not in record_only:
                next(answers)
        if fresh:
            self.redis.sadd(self.keys.waiting(connection_id), *fresh)
            if not self._ensure_collector(connection_id):
                self._hurry_collector(connection_id, fresh)
        return len(fresh)

    def window_left(self, connection_id: int, pace: float = 0.0, batch: int = REFRESH_BATCH) -> float:
        """Seconds until the waiting contacts are handed out (0: now).

        The fill window, and ``pace`` (CRMAdapter.refresh_interval) after the previous hand-out: at a
        short rate limit, rounds of ~20 calls every second ran into the wall after a few seconds and then
        every contact waited on the budget (20 new contacts/s at HubSpot's 100 calls / 10 s: p95 6.5-7.5 s);
        paced, rounds come every ~2 s with more contacts each. A full batch waits for neither (waiting
        would not make its round cheaper): it used to wait out the fill window, which left the CRM's
        window idle for a second at the start of every backfill (a page of 100 ids is a full batch).
        """
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)  # one round trip: the collector polls this
        pipe.mget(self.keys.collect(connection_id), self._handed_at_key(connection_id))
        pipe.scard(self.keys.waiting(connection_id))
        (opened, last), waiting = pipe.execute()
        full = waiting >= batch
        if full and (opened is None or float(opened) <= now):  # a collector deferred for settling still waits
            return 0.0
        left = max(0.0, FILL_WINDOW - (now - float(opened))) if opened else 0.0
        paced = float(last) + pace - now if pace > 0 and last is not None else 0.0
        if paced > left and not full:
            left = paced
        return left

    def collect_later(self, connection_id: int) -> None:
        """The window is still open: the collector goes to the back of the queue (not through RQ's
        scheduler, whose process does not survive a Redis restart: delayed jobs stalled a minute)."""
        self.enqueue(COLLECT_REFRESHES, 0, connection_id)

    def hand_out(self, connection_id: int, batch: int = REFRESH_BATCH, limit: int = 5000) -> int:
        """Turn waiting contacts into refresh jobs of ``batch``; they leave the waiting set only
        once their job is queued, so a crash here can only duplicate a refresh, never drop one.

        Contacts refreshed less than SETTLE ago stay waiting unless the jobs going anyway have room
        for them; the collector then comes back when the first of them has settled.
        """
        key, handed = self.keys.waiting(connection_id), self._handed_key(connection_id)
        self.redis.delete(self.keys.collect(connection_id))  # arrivals from now on need a new collector
        ids = sorted(map(as_text, self.redis.srandmember(key, limit) or []))
        now = time.time()
        last = dict(zip(ids, self.redis.zmscore(handed, ids), strict=True)) if ids else {}
        # inf: its refresh has not finished (it may be stuck on a slow CRM): a newer read may overtake
        # it (the older result is then dropped, see refresh_contacts), so it does not settle.
        ready = [cid for cid in ids if last[cid] is None or last[cid] == INF or now - last[cid] >= SETTLE]
        settling = [cid for cid in ids if cid not in set(ready)]
        room = -len(ready) % batch  # free places in the last job of this round
        out = ready + settling[:room] if ready else []
        for chunk in chunked(out, batch):
            self.enqueue(REFRESH_CONTACTS, 0, connection_id, list(chunk))
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(handed, dict.fromkeys(chunk, INF))  # in flight until finished()
            pipe.expire(handed, int(SETTLE) + FLAG_TTL)
            pipe.srem(key, *chunk)
            pipe.execute()
        self.redis.zremrangebyscore(handed, "-inf", now - SETTLE)
        if out:
            self.redis.set(self._handed_at_key(connection_id), repr(now), ex=FLAG_TTL)
        left = settling[room:] if ready else settling
        if left:  # back when the first of them has settled
            earliest = min(last[cid] or now for cid in left) + SETTLE  # settling ones are finite
            self._ensure_collector(connection_id, opened=earliest - FILL_WINDOW)
        elif self.redis.scard(key):
            self._ensure_collector(connection_id)
        return len(out)

    def started(self, connection_id: int, contact_ids: Sequence[str]) -> set[str]:
        """The refresh of these contacts begins; returns those whose changes since their last read were all
        record-only edits (see ``request``). Contacts refreshed without a flag (reconcile, backfill, replay)
        count as full.

        The flags are read and cleared in one transaction before reading the CRM, so a change made during
        the read queues another refresh and no scope set in between is lost.
        """
        if not contact_ids:
            return set()
        keys = [self.keys.pending(connection_id, cid) for cid in contact_ids]
        pipe = self.redis.pipeline(transaction=True)
        pipe.mget(keys)
        pipe.delete(*keys)
        scopes, _ = pipe.execute()
        return {cid for cid, scope in zip(contact_ids, scopes, strict=True) if scope is not None
                and as_text(scope) == RECORD}

    def finished(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        """Their refresh has committed: a change from now on settles for SETTLE before the next one."""
        if contact_ids:
            self.redis.zadd(self._handed_key(connection_id), dict.fromkeys(contact_ids, time.time()), xx=True)

    def forget(self, connection_id: int, contact_id: str) -> None:
        self.redis.delete(self.keys.pending(connection_id, contact_id))
        self.redis.srem(self.keys.waiting(connection_id), contact_id)
        self.redis.zrem(self._handed_key(connection_id), contact_id)

    def _handed_at_key(self, connection_id: int) -> str:
        return f"{self.keys.prefix}handed-at:{connection_id}"  # when the last round was handed out

    def _handed_key(self, connection_id: int) -> str:
        # contact -> when its last refresh finished, inf while one runs (sorted set; older than SETTLE pruned)
        return f"{self.keys.prefix}handed:{connection_id}"

    def _ensure_collector(self, connection_id: int, opened: float | None = None) -> bool:
        """Queue a collector unless one is queued; ``opened`` in the future defers its window."""
        stamp = repr(time.time() if opened is None else opened)
        if self.redis.set(self.keys.collect(connection_id), stamp, nx=True, ex=FLAG_TTL + int(SETTLE)):
            self.enqueue(COLLECT_REFRESHES, 0, connection_id)
            return True
        return False

    def _hurry_collector(self, connection_id: int, fresh: Sequence[str]) -> None:
        """A collector deferred for settling contacts must not hold back a contact that need not settle."""
        opened = self.redis.get(self.keys.collect(connection_id))
        now = time.time()
        if opened is None or float(opened) <= now:
            return
        last = self.redis.zmscore(self._handed_key(connection_id), list(fresh))
        if any(t is None or t == INF or now - t >= SETTLE for t in last):
            self.redis.set(self.keys.collect(connection_id), repr(now), xx=True, ex=FLAG_TTL + int(SETTLE))
