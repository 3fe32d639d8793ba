"""The process-wide context that web handlers, jobs and CLI commands share.

Built once per process from ``Settings``; the embedded Redis, when used, is
started here and shut down with ``close()``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from adapters.base import CRMAdapter

from .config import Settings
from .connections import build_adapter
from .crypto import SecretBox
from .queue import JobQueue
from .redis_conn import EmbeddedRedis, connect
from .store import Store

log = logging.getLogger("cem.runtime")


class Runtime:
    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        self.box = SecretBox(settings.secret_key)
        self.store = Store(settings.database_url)
        if migrate:
            self.store.upgrade()
        self.embedded: EmbeddedRedis | None = None
        redis_url = settings.redis_url
        if redis_url is None:
            self.embedded = EmbeddedRedis(settings.data_dir)
            redis_url = self.embedded.url
        self.redis_url = redis_url
        self.redis: redis.Redis = connect(redis_url)
        self.queue = JobQueue(self.redis, settings.queue_name)
        self._engine_config: Any = None

    @property
    def engine_config(self) -> Any:
        if self._engine_config is None:
            from cem_engine.config import load_config

            self._engine_config = load_config(self.settings.engine_config)
        return self._engine_config

    def adapter(self, connection_id: int) -> CRMAdapter:
        return build_adapter(self.store, self.box, connection_id)

    def close(self) -> None:
        self.store.dispose()
        if self.embedded is not None:
            self.embedded.close()


_current: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The runtime of this process (workers build it from the environment on first use)."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime(Settings.from_env())
        return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    with _lock:
        _current = runtime
