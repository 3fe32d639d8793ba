"""Every Redis key the connector uses, and the names of its jobs, in one place (after rq's ``keys.py``).

All keys live under ``cem:<queue name>:``, so installs sharing a Redis never see each other's:

- ``seen:<conn>:<bucket>:<shard>``  64-bit digests of accepted delivery ids, integer sets per time bucket
- ``seen-meta:<conn>``         shard count and size of each bucket (``DeliveryLog``)
- ``inbox:<conn>``             accepted events, oldest first, until a drain job has processed them
- ``drain:<conn>``              a drain job is queued
- ``claim:<conn>:<worker>:<id>``  events a drain job took from the inbox and is processing
- ``pending:<conn>:<contact>``  a refresh of this contact is queued (coalesces bursts; ``RefreshCoalescer``)
- ``waiting:<conn>``            contacts to refresh, until the collector puts them in batch jobs
- ``collect:<conn>``            a collector job is queued
- ``dirty:<conn>:<shard>``      contacts whose new values await a batched write; a contact leaves it only
                                once written (or dead-lettered), so a crash loses nothing (``WriteLedger``).
                                Each contact lives in one of ``WRITE_SHARDS`` shards (crc32 of its id), so
                                two workers write different shards of one connection side by side
- ``flush:<conn>:<shard>``      a flush job for the shard is queued
- ``flush-lock:<conn>:<shard>`` one flush at a time per shard (no two workers write one contact); the token
                                names the worker, so a live worker frees the locks of a dead one
- ``inflight:<conn>:<shard>``   contacts whose write was sent but not yet recorded; left over only when a
                                worker died mid-write, so the next flush reads them back before rewriting
- ``dirty:<conn>``, ``inflight:<conn>``  the unsharded sets of earlier releases: adopted into the shards
                                by the next flush request, cleared by ``forget``
- ``usage:<conn>``              CRM calls counted per day (hash: day -> calls) and not yet added to the
                                ``api_usage`` table; ``usage-limits:<conn>`` the limits the CRM last reported;
                                ``usage-flush:<conn>`` set while the last flush is recent (``UsageCounter``)
- ``connection-stamp:<conn>``   bumped when a job stops or resumes the connection: cached adapters rebuild
- ``heartbeats``, ``recovery-lock``  worker liveness (``connector.worker``)
- ``data-marker``               set by the first worker and never deleted: when it is missing, Redis lost its
                                data (queued jobs, dirty sets) and the worker reconciles every connection at once
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueKeys:
    prefix: str  # "cem:<queue name>:"

    @classmethod
    def for_queue(cls, name: str) -> QueueKeys:
        return cls(f"cem:{name}:")

    def seen(self, connection_id: int) -> str:
        return f"{self.prefix}seen:{connection_id}"

    def seen_meta(self, connection_id: int) -> str:
        return f"{self.prefix}seen-meta:{connection_id}"

    def inbox(self, connection_id: int) -> str:
        return f"{self.prefix}inbox:{connection_id}"

    def drain(self, connection_id: int) -> str:
        return f"{self.prefix}drain:{connection_id}"

    def budget(self, connection_id: int) -> str:
        """Send times of the connection's recent CRM calls, shared by every worker (``CallBudget``)."""
        return f"{self.prefix}budget:{connection_id}"

    def claim(self, connection_id: int | str, owner: str) -> str:
        """Events a drainer took from the inbox; ``owner`` is ``<worker name>:<uuid>``."""
        return f"{self.prefix}claim:{connection_id}:{owner}"

    def claim_connection(self, key: str) -> int:
        return int(key[len(f"{self.prefix}claim:"):].split(":", 1)[0])

    def pending(self, connection_id: int, contact_id: str) -> str:
        return f"{self.prefix}pending:{connection_id}:{contact_id}"

    def waiting(self, connection_id: int) -> str:
        return f"{self.prefix}waiting:{connection_id}"

    def collect(self, connection_id: int) -> str:
        return f"{self.prefix}collect:{connection_id}"

    def dirty(self, connection_id: int, shard: int | None) -> str:
        return self._sharded("dirty", connection_id, shard)

    def flush(self, connection_id: int, shard: int) -> str:
        return self._sharded("flush", connection_id, shard)

    def flush_lock(self, connection_id: int | str, shard: int | str) -> str:
        return self._sharded("flush-lock", connection_id, shard)

    @property
    def flush_locks(self) -> str:
        """A SCAN pattern matching every connection's flush locks (every shard's)."""
        return f"{self.prefix}flush-lock:*"

    def inflight(self, connection_id: int, shard: int | None) -> str:
        return self._sharded("inflight", connection_id, shard)

    def _sharded(self, name: str, connection_id: int | str, shard: int | str | None) -> str:
        """``<name>:<conn>:<shard>``; ``shard=None`` names the unsharded key of earlier releases."""
        return f"{self.prefix}{name}:{connection_id}" + ("" if shard is None else f":{shard}")

    def usage(self, connection_id: int) -> str:
        return f"{self.prefix}usage:{connection_id}"

    def usage_limits(self, connection_id: int) -> str:
        return f"{self.prefix}usage-limits:{connection_id}"

    def usage_flush(self, connection_id: int) -> str:
        return f"{self.prefix}usage-flush:{connection_id}"

    def connection_stamp(self, connection_id: int) -> str:
        return f"{self.prefix}connection-stamp:{connection_id}"

    @property
    def heartbeats(self) -> str:
        return f"{self.prefix}heartbeats"

    @property
    def recovery_lock(self) -> str:
        return f"{self.prefix}recovery-lock"

    @property
    def data_marker(self) -> str:
        return f"{self.prefix}data-marker"


# Jobs are enqueued by dotted name (rq resolves it in the worker), so the queue never imports the
# jobs module that uses it.
PROCESS_EVENTS = "connector.jobs.process_events"
DRAIN_DELIVERIES = "connector.jobs.drain_deliveries"
COLLECT_REFRESHES = "connector.jobs.collect_refreshes"
REFRESH_CONTACTS = "connector.jobs.refresh_contacts"
FLUSH_WRITES = "connector.jobs.flush_writes"
RECONCILE_CONNECTION = "connector.jobs.reconcile_connection"
RECONCILE_ALL = "connector.jobs.reconcile_all"
FAILED_JOB = "connector.jobs.job_failed"  # RQ failure callback: a job out of retries becomes a dead letter
