"""The delivery log: which webhook deliveries were accepted, so a repeated one is acknowledged and ignored."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis

from webhooks.events import ChangeEvent

from ..redis_conn import QueueUnavailable
from .keys import PROCESS_EVENTS, QueueKeys
from .scheduling import Enqueue

SEEN_DAYS = 8  # CRMs retry for at most a day or two (HubSpot 24 h, Salesforce 24 h); a week is plenty
EVENTS_FAILURE_TTL = 30 * 24 * 3600  # a failed process_events job stays inspectable (and replayable) a month


class DeliveryLog:
    def __init__(self, connection: redis.Redis, keys: QueueKeys, enqueue: Enqueue) -> None:
        self.redis, self.keys, self.enqueue = connection, keys, enqueue

    def accept(self, connection_id: int, events: Sequence[ChangeEvent]) -> int:
        """Enqueue the deliveries not seen before; returns how many were new.

        Order matters for "nothing lost": we enqueue first and mark as seen after,
        so a crash in between can only cause a harmless duplicate, never a drop.
        """
        try:
            unique = list({e.event_id: e for e in events}.values())
            if not unique:
                return 0
            # One sorted set per connection: a 100-event delivery costs three commands, not a
            # hundred keys; the score (arrival time) lets old ids be trimmed in one go.
            key = self.keys.seen(connection_id)
            scores = self.redis.zmscore(key, [e.event_id for e in unique])
            fresh = [e for e, score in zip(unique, scores, strict=True) if score is None]
            if fresh:
                self.enqueue(PROCESS_EVENTS, 0, connection_id, [e.to_dict() for e in fresh],
                             failure_ttl=EVENTS_FAILURE_TTL)
                now = time.time()
                pipe = self.redis.pipeline(transaction=False)
                pipe.zadd(key, {e.event_id: now for e in fresh})
                pipe.zremrangebyscore(key, 0, now - SEEN_DAYS * 86400)
                pipe.execute()
            return len(fresh)
        except redis.RedisError as exc:
            raise QueueUnavailable("The job queue is unavailable; try again shortly.") from exc
