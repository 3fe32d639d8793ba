"""The process-wide context that web handlers, jobs and CLI commands share.

Built once per process from ``Settings``; the embedded Redis, when used, is
started here and shut down with ``close()``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import redis

from adapters.base import CRMAdapter
from adapters.fields import FieldSpec, cem_fields

from .config import Settings
from .connections import NEEDS_RECONNECT, NeedsReconnect, connection_info, get_connection
from .crypto import SecretBox
from .errors import SettingsError
from .preflight import prepare_schema
from .queue import JobQueue
from .recent_reads import RecentReads
from .redis_conn import EmbeddedRedis, connect
from .registry import get_platform
from .store import Store
from .suppression import SuppressionList

log = logging.getLogger("cem.runtime")

# A cached adapter is trusted this long without re-reading its connection row (one DB query per job was a
# share of a single-event delivery's cost); stops and resumes reach every process at once through Redis
# (``connection_changed``), other changes (settings learnt from a webhook, a refreshed token) within this.
CONNECTION_CHECK_SECONDS = 5.0


@dataclass
class _CachedAdapter:
    updated_at: Any  # the connection row's, when the adapter was built
    stamp: bytes | None  # the connection's Redis stamp then (bumped by connection_changed)
    checked: float  # monotonic time of the last row read
    adapter: CRMAdapter
    account: tuple[str, str | None]  # platform and account id: a token refresh keeps them, a new connect may not


class Runtime:
    def __init__(self, settings: Settings, *, migrate: bool | None = None) -> None:
        """``migrate``: True upgrades the schema, False only checks it; None (processes) upgrades a
        SQLite store (one machine, a laptop) and checks any other database, which `cem-connector
        migrate` (the release phase) upgrades once per deploy."""
        self.settings = settings
        self.box = SecretBox(settings.secret_key)
        self.store = Store(settings.database_url)
        if migrate is None:
            migrate = settings.database_url.startswith("sqlite")
        prepare_schema(self.store, migrate=migrate)
        self.embedded: EmbeddedRedis | None = None
        redis_url = settings.redis_url
        if redis_url is None:
            self.embedded = EmbeddedRedis(settings.data_dir)
            redis_url = self.embedded.url
        self.redis_url = redis_url
        self.redis: redis.Redis = connect(redis_url)
        self.queue = JobQueue(self.redis, settings.queue_name)
        self.suppressed = SuppressionList(self.store, settings.secret_key)
        self._engine_config: Any = None
        # One adapter per connection per process, rebuilt when the connection row changes: logins and
        # tokens are reused across jobs (Salesforce limits logins per user per hour).
        self._adapters: dict[int, _CachedAdapter] = {}
        self.recent_reads = RecentReads()  # contacts' histories this process read lately (recent_reads.py)
        self._calls_seen: dict[int, tuple[int, int]] = {}  # connection -> (adapter identity, calls counted)

    @property
    def engine_config(self) -> Any:
        if self._engine_config is None:
            from cem_engine.config import load_config

            self._engine_config = load_config(self.settings.engine_config)
        return self._engine_config

    @property
    def cem_fields(self) -> tuple[FieldSpec, ...]:
        """The CEM fields with the Churn Reason options of the configured taxonomy (install, write, read)."""
        try:
            return cem_fields(self.engine_config.taxonomy)
        except ValueError as exc:
            raise SettingsError(f"engine config {self.settings.engine_config!r}: {exc}") from exc

    def adapter(self, connection_id: int) -> CRMAdapter:
        stamp = self._connection_stamp(connection_id)
        cached = self._adapters.get(connection_id)
        if (cached is not None and stamp is not None and cached.stamp == stamp
                and time.monotonic() - cached.checked < CONNECTION_CHECK_SECONDS):
            return cached.adapter
        row = get_connection(self.store, connection_id)
        if row.status == NEEDS_RECONNECT:
            raise NeedsReconnect(f"{row.platform} connection {connection_id} is stopped: {row.status_detail} "
                                 f"Reconnect it with `cem-connector connect {row.platform} --name {row.name} ...`.",
                                 platform=row.platform)
        if cached is not None and cached.updated_at == row.updated_at:
            cached.stamp, cached.checked = stamp, time.monotonic()
            return cached.adapter
        info = replace(connection_info(self.store, self.box, row, production=self.settings.production,
                                       fields=self.cem_fields),
                       call_gate=self.queue.budget.gate(connection_id))
        adapter = get_platform(row.platform).adapter_class()(info)
        if cached is not None and cached.account != (row.platform, row.account_id):
            self.recent_reads.drop(connection_id)  # the connection now reaches another account: read it afresh
        self._adapters[connection_id] = _CachedAdapter(row.updated_at, stamp, time.monotonic(), adapter,
                                                     (row.platform, row.account_id))
        return adapter

    def connection_changed(self, connection_id: int) -> None:
        """The connection was stopped or resumed (new credentials): every process re-reads its row at its next job."""
        self._adapters.pop(connection_id, None)
        self.recent_reads.drop(connection_id)
        self.redis.incr(self.queue.keys.connection_stamp(connection_id))

    def _connection_stamp(self, connection_id: int) -> bytes | None:
        try:
            return self.redis.get(self.queue.keys.connection_stamp(connection_id)) or b"0"
        except redis.RedisError:  # a CLI command while Redis is away: read the row, as without a cache
            return None

    def new_api_calls(self, connection_id: int, adapter: CRMAdapter, total: int) -> int:
        """Calls an adapter made since we last counted (adapters count cumulatively)."""
        identity, counted = self._calls_seen.get(connection_id, (0, 0))
        if identity != id(adapter):
            counted = 0
        self._calls_seen[connection_id] = (id(adapter), total)
        return max(0, total - counted)

    def close(self) -> None:
        self.store.dispose()
        self.redis.close()  # our own connections must not count as "someone still uses it"
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
