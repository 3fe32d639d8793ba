"""A whole connector on loopback that fault scenarios can break on purpose.

One ``World`` = a private redis-server, a SQLite file, the connector web app (in this process,
real HTTP), a sandbox CRM (real HTTP) whose API answers can be made to fail or slow down, and
workers either in this process (burst) or as ``python -m connector.cli worker`` subprocesses that a
scenario may SIGKILL. Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

from cryptography.fernet import Fernet
from rq import SimpleWorker
from sqlalchemy import func, select

from adapters.base import ConnectionInfo
from connector.app import create_app
from connector.config import Settings
from connector.connections import create_connection, crm_signing_secret, new_webhook_secret
from connector.registry import get_platform
from connector.runtime import Runtime, set_runtime
from connector.store import DeadLetter
from sandbox import sandbox_class
from sandbox.server import ServerThread

from .crm_faults import FaultInjector
from .ledger import CaptureSender, WriteCounter, events_in
from .outcome import Row
from .redis_server import PrivateRedis

REPO = Path(__file__).resolve().parents[2]
PLATFORMS = ("hubspot", "salesforce", "dynamics")
# Shrink each CRM's real webhook retry schedule so it spans an outage of a few seconds (sandbox_options).
RETRY_TIME_SCALE = {"hubspot": 0.0002, "salesforce": 0.001, "dynamics": 0.2}


class World:
    def __init__(self, platform: str, directory: Path, records: list[dict[str, Any]], *,
                 sandbox_options: dict[str, Any] | None = None, max_attempts: int = 6,
                 retry_base: float = 0.2, extra_env: dict[str, str] | None = None) -> None:
        self.platform = platform
        self.directory = directory
        self.redis = PrivateRedis(directory / "redis").start()
        self.env = {
            "CEM_DATA_DIR": str(directory / "data"),
            "DATABASE_URL": f"sqlite:///{directory / 'cem.db'}",
            "REDIS_URL": self.redis.url,
            "CEM_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
            "CEM_SECRET_KEY": Fernet.generate_key().decode(),
            "CEM_ADMIN_TOKEN": "admin-" + uuid.uuid4().hex,
            "CEM_SIGNING_KEY": "signing-" + uuid.uuid4().hex,
            "CEM_LOG_LEVEL": "WARNING",
            "CEM_RETRY_BASE_SECONDS": str(retry_base),
            "CEM_MAX_ATTEMPTS": str(max_attempts),
            **(extra_env or {}),
        }
        self.runtime = Runtime(Settings.from_env(self.env))
        set_runtime(self.runtime)  # jobs run in this process call get_runtime()
        self.app = create_app(self.runtime)
        self.server = ServerThread(self.app).start()
        self.runtime.settings = replace(self.runtime.settings, public_url=self.server.url)
        self.faults = FaultInjector(platform)
        self.sandbox = self._start_sandbox(records, sandbox_options or {})
        self.writes = WriteCounter(platform, self.sandbox, self.adapter)
        self.workers: list[subprocess.Popen[bytes]] = []

    # -- setup ---------------------------------------------------------------------------------
    def _start_sandbox(self, records: list[dict[str, Any]], options: dict[str, Any]) -> Any:
        platform = get_platform(self.platform)
        sandbox = sandbox_class(platform.name)(**options)
        make_app = sandbox.create_app

        def faulty_app() -> Any:  # the CRM's own app behind our fault switch
            app = make_app()
            app.wsgi_app = self.faults.wrap(app.wsgi_app)
            return app

        sandbox.create_app = faulty_app
        sandbox.seed(records)
        sandbox.start()
        settings, credentials = sandbox.connection_settings()
        adapter_cls = platform.adapter_class()
        secret = crm_signing_secret(adapter_cls, credentials) or new_webhook_secret()
        facts = adapter_cls(ConnectionInfo(0, self.platform, settings, credentials)).check_connection()
        self.connection_id = create_connection(self.runtime.store, self.runtime.box, platform=self.platform,
                                               name="faults", settings=settings, credentials=credentials,
                                               webhook_secrets=[secret],
                                               account_id=str(facts.get("account_id") or "") or None)
        self.runtime.adapter(self.connection_id).provision()
        self.secret = secret
        self.webhook_url = f"{self.server.url}/webhooks/{self.platform}/{self.connection_id}"
        sandbox.subscribe(self.webhook_url, secret)
        return sandbox

    @property
    def adapter(self) -> Any:
        return self.runtime.adapter(self.connection_id)

    def contact_ids(self) -> list[str]:
        return list(self.sandbox.contact_ids())

    def dead_letters(self) -> int:
        with self.runtime.store.session() as session:
            return int(session.scalar(select(func.count()).select_from(DeadLetter).where(
                DeadLetter.connection_id == self.connection_id)) or 0)

    # -- webhooks ---------------------------------------------------------------------------------
    def capture(self, action: Callable[[], Any]) -> list[Any]:
        """Run ``action`` (which makes the CRM send webhooks) and keep the deliveries instead of sending them."""
        real = self.sandbox.sender
        capture = CaptureSender()
        self.sandbox.sender = capture
        try:
            action()
        finally:
            self.sandbox.sender = real
        return capture.deliveries

    def deliver(self, deliveries: Iterable[Any]) -> int:
        """Send captured deliveries through the CRM's real sender (signed afresh, retried as the CRM does)."""
        sent = 0
        for delivery in deliveries:
            self.sandbox.sender.send(delivery.url, delivery.body, delivery.content_type, dict(delivery.headers))
            sent += events_in(self.platform, delivery.body)
        return sent

    def wait_deliveries(self, timeout: float = 60.0) -> bool:
        return bool(self.sandbox.sender.wait_idle(timeout=timeout))

    def heal_abandoned(self, deliveries: Iterable[Any]) -> tuple[int, str]:
        """Deliveries the CRM gave up on (Dataverse retries only once) are healed the documented way,
        `cem-connector reconcile`; returns how many, and a note for the row's detail."""
        abandoned = sum(1 for d in deliveries if d.abandoned)
        if not abandoned:
            return 0, ""
        result = self.cli("reconcile", "--connection", str(self.connection_id))
        return abandoned, f"; {abandoned} abandoned by the CRM, healed by reconcile (exit {result.returncode})"

    # -- workers ------------------------------------------------------------------------------------
    def work(self) -> None:
        """Run every queued (and due scheduled) job in this process."""
        SimpleWorker([self.runtime.queue.rq], connection=self.runtime.redis).work(
            burst=True, with_scheduler=True, logging_level="WARNING")

    def idle(self) -> bool:
        depth = self.runtime.queue.depth()
        return (depth["queued"] == 0 and depth["scheduled"] == 0 and depth["started"] == 0
                and self.sandbox.sender.pending() == 0)

    def drain(self, timeout: float = 90.0, until: Callable[[], bool] | None = None, inline: bool = True) -> float:
        """Deliver webhooks and run jobs until idle (or ``until``); returns the seconds it took. Bounded."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            self.sandbox.sender.wait_idle(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
            if inline:
                self.work()
            try:
                done = until() if until is not None else self.idle()
            except Exception:  # Redis may be down mid-scenario; keep waiting within the bound
                done = False
            if done:
                return time.monotonic() - started
            time.sleep(0.05 if inline else 0.25)
        raise TimeoutError(f"{self.platform}: not drained within {timeout}s: {self._depth_text()}")

    def _depth_text(self) -> str:
        try:
            return str(self.runtime.queue.depth())
        except Exception as exc:
            return f"queue unavailable ({type(exc).__name__})"

    def spawn_worker(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                                  os.environ.get("PYTHONPATH")]))}
        log = (self.directory / f"worker-{len(self.workers)}.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "connector.cli", "worker"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers.append(process)
        return process

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``cem-connector ARGS`` as the operator would, against this world's database and Redis."""
        env = {**os.environ, **self.env}
        return subprocess.run([sys.executable, "-m", "connector.cli", *args], cwd=REPO, env=env, text=True,
                              capture_output=True, timeout=timeout, check=False)

    # -- teardown ---------------------------------------------------------------------------------
    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        self.sandbox.stop()
        self.server.stop()
        set_runtime(None)
        self.runtime.close()
        self.redis.stop()


class Closing(Protocol):
    def close(self) -> None: ...


ClosingT = TypeVar("ClosingT", bound=Closing)


@overload
def scenario_world(row: Row, *args: Any, started: float | None = None,
                   **kwargs: Any) -> contextlib.AbstractContextManager[World]: ...


@overload
def scenario_world(row: Row, *args: Any, setup: Callable[..., ClosingT], started: float | None = None,
                   **kwargs: Any) -> contextlib.AbstractContextManager[ClosingT]: ...


@contextlib.contextmanager
def scenario_world(row: Row, *args: Any, setup: Callable[..., Any] = World, started: float | None = None,
                   **kwargs: Any) -> Iterator[Any]:
    """A World for one scenario: it always closes, ``row.seconds`` covers setup to teardown, and a timeout
    (a drain that never ends) becomes the row's failure instead of an exception that hides the other rows.

    ``setup(*args, **kwargs)`` builds it (a scenario that needs no connector passes its own: anything with
    ``close()``); ``started`` is when the clock started, for a scenario that prepares things before it.
    """
    started = time.monotonic() if started is None else started
    world = setup(*args, **kwargs)
    try:
        yield world
    except TimeoutError as error:
        row.ok = False
        row.detail = f"not drained: {error}"
    finally:
        row.seconds = time.monotonic() - started
        world.close()
