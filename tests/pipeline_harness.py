"""A whole connector on loopback for end-to-end, fault and load tests.

Sandbox CRM (real HTTP) -> signed webhook -> connector web app (real HTTP) ->
real Redis queue -> worker -> batched writes -> fields on the sandbox record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from rq import SimpleWorker
from sqlalchemy import func, select

from connector.app import create_app
from connector.registry import get_platform
from connector.runtime import Runtime
from connector.store import WrittenValues
from demo.run import connect_sandbox
from sandbox import sandbox_class
from sandbox.server import ServerThread


@dataclass
class Pipeline:
    runtime: Runtime
    server: ServerThread
    sandbox: Any
    connection_id: int
    secret: str

    @property
    def adapter(self):  # type: ignore[no-untyped-def]
        return self.runtime.adapter(self.connection_id)

    def work(self) -> None:
        """Run every queued job in this process (a real RQ worker, burst mode)."""
        SimpleWorker([self.runtime.queue.rq], connection=self.runtime.redis).work(
            burst=True, with_scheduler=True, logging_level="WARNING")

    def drain(self, timeout: float = 60.0, until: Any = None) -> None:
        """Alternate between webhook delivery and the worker until both are idle (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sandbox.sender.wait_idle(timeout=max(0.1, deadline - time.monotonic()))
            self.work()
            depth = self.runtime.queue.depth()
            idle = depth["queued"] == 0 and depth["scheduled"] == 0 and self.sandbox.sender.pending() == 0
            if (until is None and idle) or (until is not None and until()):
                return
            time.sleep(0.05)
        raise AssertionError(f"pipeline did not drain within {timeout}s: {self.runtime.queue.depth()}")

    def written_contacts(self) -> int:
        with self.runtime.store.session() as session:
            return int(session.scalar(select(func.count()).select_from(WrittenValues).where(
                WrittenValues.connection_id == self.connection_id)) or 0)

    def write_counts(self) -> dict[str, int]:
        with self.runtime.store.session() as session:
            return {w.contact_id: w.write_count for w in session.scalars(select(WrittenValues).where(
                WrittenValues.connection_id == self.connection_id))}

    def stop(self) -> None:
        self.sandbox.stop()
        self.server.stop()


def start_pipeline(runtime: Runtime, platform_name: str, records: Iterable[dict[str, Any]],
                   **sandbox_options: Any) -> Pipeline:
    platform = get_platform(platform_name)
    server = ServerThread(create_app(runtime)).start()
    runtime.settings = replace(runtime.settings, public_url=server.url)
    sandbox = sandbox_class(platform.name)(**sandbox_options)
    sandbox.seed(list(records))
    sandbox.start()
    connection_id, secret, _ = connect_sandbox(runtime, platform, sandbox, name="test")
    return Pipeline(runtime, server, sandbox, connection_id, secret)
