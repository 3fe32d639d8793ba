"""The delivery log: dedupe of webhook deliveries and the inbox of events awaiting a worker.

One Lua script per delivery does everything intake needs in one Redis round trip: refuse when the
connection's inbox is past its depth (backpressure: the receiver answers 503 + Retry-After and the
CRM retries later), drop event ids seen inside the platform's redelivery window, append the new
events to ``inbox:<conn>`` and remember their ids, and say whether a drain job must be queued (only
the first delivery of a burst queues one, so intake does not create an RQ job per delivery).

Remembered ids are 64-bit digests of the event id, kept in integer sets (Redis's ``intset``, 8
bytes a member) sharded per time bucket: ``seen:<conn>:<bucket>:<shards>:<shard>``. Each shard stays
under ``set-max-intset-entries`` (512) to keep that compact encoding: a bucket starts with as many
shards as the previous bucket needed and doubles them when one fills (ids stay where they were put,
so a lookup tries each shard count the bucket used); buckets expire with the window. Past ``SEEN_CAP`` ids in a bucket
new ids are not remembered: a duplicate then gets processed again, which is harmless (the write
ledger decides every effect), while memory stays bounded.

Drain jobs (``connector.jobs.drain_deliveries``) claim the oldest events in chunks (moved
atomically into a claim list named after the worker), so several workers drain one connection in
parallel; a claim is deleted once processed, put back when processing fails, and put back by a live
worker's recovery when its owner dies (``release_locks_of``): nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import redis

from webhooks.events import ChangeEvent

from ..errors import QueueUnavailable
from ..redis_conn import as_text
from .keys import DRAIN_DELIVERIES, QueueKeys
from .scheduling import Enqueue

BUCKET_SECONDS = 3 * 3600
DEFAULT_WINDOW = 26 * 3600  # the longest documented redelivery window (24 h) plus a margin
SEEN_CAP = 2_000_000  # ids remembered per connection per bucket (~16 MB at 8 bytes an id)
INBOX_LIMIT = 50_000  # events waiting per connection before intake sheds load with 503
RETRY_AFTER_SECONDS = 30
DRAIN_FLAG_TTL = 60  # a drain job queued by a crashed web process is re-queued by the next delivery
SHARD_TARGET = 400  # ids per shard, below Redis's set-max-intset-entries (512)
TOMBSTONE = "{}"  # an inbox entry removed by `forget` (positions must not move under the drainer)

_ACCEPT = """
local meta, inbox, flag = KEYS[1], KEYS[2], KEYS[3]
local current, back, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cap, limit, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local flag_ttl, target, now = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
if redis.call('LLEN', inbox) >= limit then return {-1, 0} end
-- per bucket, the shard counts it has used ("16,32,64"): a bucket doubles its shards when one
-- fills past target, and ids stay where they were put, so a lookup tries each count
-- (one HMGET reads every bucket's counts and the two id tallies: Redis runs on the web process's cores)
local fields = {(current - 1) .. ':n', current .. ':n'}
for b = current - back, current do fields[#fields + 1] = b .. ':s' end
local stored = redis.call('HMGET', meta, unpack(fields))
local generations = {}
for b = current - back, current do
  local list = stored[b - (current - back) + 3]
  if list then
    local counts = {}
    for s in string.gmatch(list, '%d+') do counts[#counts + 1] = tonumber(s) end
    generations[b] = counts
  end
end
if not generations[current] then
  local previous = tonumber(stored[1] or '0')
  local s = 16
  while s * target < previous and s < 65536 do s = s * 2 end
  redis.call('HSET', meta, current .. ':s', tostring(s))
  generations[current] = {s}
end
redis.call('EXPIRE', meta, ttl)
local latest = generations[current]
local count = tonumber(stored[2] or '0')
local fresh = 0
for i = 10, #ARGV, 3 do
  local digest, shard = ARGV[i], tonumber(ARGV[i + 1])
  local seen = false
  for b, counts in pairs(generations) do
    for _, s in ipairs(counts) do
      if redis.call('SISMEMBER', prefix .. b .. ':' .. s .. ':' .. (shard % s), digest) == 1 then
        seen = true
        break
      end
    end
    if seen then break end
  end
  if not seen then
    redis.call('RPUSH', inbox, ARGV[i + 2])
    fresh = fresh + 1
    if count < cap then
      local s = latest[#latest]
      local key = prefix .. current .. ':' .. s .. ':' .. (shard % s)
      count = count + redis.call('SADD', key, digest)
      redis.call('EXPIRE', key, ttl)  -- (EXPIRE NX would need Redis 7; the embedded one is 6.2)
      if s < 65536 and redis.call('SCARD', key) > target then
        latest[#latest + 1] = s * 2
        redis.call('HSET', meta, current .. ':s', table.concat(latest, ','))
      end
    end
  end
end
redis.call('HSET', meta, current .. ':n', count)
if fresh > 0 then redis.call('HSET', meta, 'last', now) end
local queue_job = 0
if fresh > 0 and redis.call('SET', flag, '1', 'NX', 'EX', flag_ttl) then queue_job = 1 end
return {fresh, queue_job}
"""

# Replace the entries naming a contact by tombstones, in one step (the drainer trims by position).
_FORGET = """
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
local removed = 0
for i, entry in ipairs(entries) do
  if string.find(entry, ARGV[1], 1, true) then
    local ok, event = pcall(cjson.decode, entry)
    if ok and type(event) == 'table' then
      local named = event['object_id'] == ARGV[2]
      if type(event['contact_ids']) == 'table' then
        for _, c in ipairs(event['contact_ids']) do if c == ARGV[2] then named = true end end
      end
      if named then
        redis.call('LSET', KEYS[1], i - 1, ARGV[3])
        removed = removed + 1
      end
    end
  end
end
return removed
"""


# Move the oldest entries of the inbox into a claim list named after the drainer, in one step: two
# workers drain one connection in parallel without taking the same events, and a worker that dies
# leaves its claim behind for recovery to put back (nothing lost).
_CLAIM = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], #items, -1)
for i = 1, #items, 1000 do  -- unpack is bounded by Lua's stack
  redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
end
return items
"""

# Put a claim back at the front of the inbox, in its order.
_UNCLAIM = """
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
redis.call('DEL', KEYS[2])
return #items
"""


class InboxFull(QueueUnavailable):
    """The connection's backlog is past INBOX_LIMIT: shed load, the CRM retries later."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def digest(event_id: str) -> tuple[str, int]:
    """(signed 64-bit member, shard number 0..65535) from independent bits of one hash."""
    raw = hashlib.blake2b(event_id.encode(), digest_size=10).digest()
    return str(int.from_bytes(raw[:8], "big", signed=True)), int.from_bytes(raw[8:], "big")


class DeliveryLog:
    def __init__(self, connection: redis.Redis, keys: QueueKeys, enqueue: Enqueue) -> None:
        self.redis, self.keys, self.enqueue = connection, keys, enqueue
        self._accept = connection.register_script(_ACCEPT)
        self._forget = connection.register_script(_FORGET)
        self._claim = connection.register_script(_CLAIM)
        self._unclaim = connection.register_script(_UNCLAIM)

    # -- intake (web process; one round trip) -----------------------------------------------------
    def accept(self, connection_id: int, events: Sequence[ChangeEvent], *, window: float = DEFAULT_WINDOW) -> int:
        """Put the deliveries not seen inside ``window`` seconds in the inbox; returns how many were new.

        Raises ``InboxFull`` (503 + Retry-After) when the backlog is too deep and ``QueueUnavailable``
        when Redis cannot be reached: a CRM is never told "accepted" for an event that was not stored.
        """
        unique = list({e.event_id: e for e in events}.values())
        if not unique:
            return 0
        now = time.time()
        bucket = int(now // BUCKET_SECONDS)
        back = int(-(-window // BUCKET_SECONDS))  # ceil: the oldest bucket still inside the window
        args: list[Any] = [bucket, back, int(window + BUCKET_SECONDS), SEEN_CAP, INBOX_LIMIT,
                           self.keys.seen(connection_id) + ":", DRAIN_FLAG_TTL, SHARD_TARGET, repr(now)]
        for event in unique:
            member, shard = digest(event.event_id)
            args += [member, shard, json.dumps(event.to_dict(), separators=(",", ":"))]
        try:
            fresh, queue_job = self._accept(keys=[self.keys.seen_meta(connection_id), self.keys.inbox(connection_id),
                                                  self.keys.drain(connection_id)], args=args)
            if fresh < 0:
                raise InboxFull(f"{INBOX_LIMIT:,} events are waiting for this connection; retry later.")
            if queue_job:
                self.enqueue(DRAIN_DELIVERIES, 0, connection_id)
            return int(fresh)
        except redis.RedisError as exc:
            raise QueueUnavailable("The job queue is unavailable; try again shortly.") from exc

    # -- the drain job (worker) ----------------------------------------------------------------------
    def drain_started(self, connection_id: int) -> None:
        """A drain job is running: deliveries from now on queue a job of their own."""
        self.redis.delete(self.keys.drain(connection_id))

    def request_drain(self, connection_id: int, delay: float = 0.0) -> None:
        if delay > 0 or self.redis.set(self.keys.drain(connection_id), 1, nx=True, ex=DRAIN_FLAG_TTL):
            self.enqueue(DRAIN_DELIVERIES, delay, connection_id)

    def claim(self, connection_id: int, limit: int, owner: str) -> tuple[str, list[dict[str, Any]]] | None:
        """Move the oldest ``limit`` events into a claim list of ``owner`` (``<worker>:<uuid>``);
        ``None`` when the inbox is empty. ``release`` the claim once processed."""
        key = self.keys.claim(connection_id, owner)
        raw = self._claim(keys=[self.keys.inbox(connection_id), key], args=[limit])
        if not raw:
            return None
        events = [json.loads(as_text(entry)) for entry in raw]
        return key, [e for e in events if e]

    def release(self, claim: str) -> None:
        self.redis.delete(claim)

    def unclaim(self, connection_id: int, claim: str) -> int:
        """Put a claim's events back at the front of the inbox (processing failed)."""
        return int(self._unclaim(keys=[self.keys.inbox(connection_id), claim]))

    def peek(self, connection_id: int, limit: int) -> list[dict[str, Any]]:
        """The oldest ``limit`` waiting events, left in place (status pages, tests)."""
        raw = self.redis.lrange(self.keys.inbox(connection_id), 0, limit - 1)
        return [e for e in (json.loads(as_text(entry)) for entry in raw) if e]

    def backlog(self, connection_id: int) -> int:
        return int(self.redis.llen(self.keys.inbox(connection_id)))

    def release_locks_of(self, workers: Sequence[str]) -> int:
        """Put the events claimed by these (dead) workers back in their inboxes; returns how many."""
        returned = 0
        for worker in workers:
            for key in list(self.redis.scan_iter(match=self.keys.claim("*", f"{worker}:*"), count=100)):
                connection_id = self.keys.claim_connection(as_text(key))
                returned += int(self._unclaim(keys=[self.keys.inbox(connection_id), key]))
        return returned

    def forget(self, connection_id: int, contact_id: str) -> int:
        """GDPR: events naming the person leave the inbox and the claims (remembered ids are digests)."""
        lists = [self.keys.inbox(connection_id),
                 *map(as_text, self.redis.scan_iter(match=self.keys.claim(connection_id, "*"), count=100))]
        return sum(int(self._forget(keys=[key], args=[json.dumps(contact_id), contact_id, TOMBSTONE]))
                   for key in lists)

    def last_delivery(self, connection_id: int) -> float | None:
        """When the newest new webhook event for this connection arrived (epoch seconds), if known."""
        value = self.redis.hget(self.keys.seen_meta(connection_id), "last")
        return float(value) if value else None
