"""One API budget per connection, shared by every worker process: a rolling window of call times in Redis.

Each process used to pace on its own view (the last response's "remaining" header and its own call
times), so two workers at a CRM's limit collided on 429s and backed off, and one worker left the
window idle while it analysed. With the window in Redis, any number of workers spend the budget to
the last call and never past it, and one worker's reads overlap another's analysis (bench.budget,
bench.backfill). Adapters see it only as ``ConnectionInfo.call_gate(limit, window) -> seconds to wait``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

from .keys import QueueKeys

# Redis's own clock, so workers on several machines agree; replicate_commands lets a 6.2 server
# (the embedded one) write after reading TIME (7.x does so by default).
_TAKE = """
if redis.replicate_commands then redis.replicate_commands() end
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], t, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(0.001, tonumber(oldest[2]) + window - t))
"""

Gate = Callable[[int, float], float]


def guarded(window: float) -> float:
    """The window this gate keeps: the CRM's plus a guard of 1% (at most 1 s). We stamp a call when we
    send it, the CRM when it arrives; a call that took a slow path in stamps later there, so its slot
    frees later there too. With no guard the slot freed here first, and the call sent into it drew a
    429 at every window's turn (bench.backfill: one or two a window, each costing its round a backoff)."""
    return window + min(1.0, window * 0.01)


class CallBudget:
    def __init__(self, connection: redis.Redis, keys: QueueKeys) -> None:
        self.redis, self.keys = connection, keys
        self._take = connection.register_script(_TAKE)

    def gate(self, connection_id: int) -> Gate:
        """``gate(limit, window)``: 0 when a call may go now (and it is counted), else seconds to wait."""
        key = self.keys.budget(connection_id)

        def take(limit: int, window: float) -> float:
            try:
                return float(self._take(keys=[key], args=[limit, guarded(window), uuid.uuid4().hex[:12]]))
            except redis.RedisError:
                return 0.0  # without Redis the CRM's own 429s still pace us

        return take
