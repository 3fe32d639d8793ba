"""The demo: the whole product on one machine with sandbox CRMs.

Starts the sandboxes, the web app, an embedded Redis and a real worker process;
connects and provisions each CRM, lets the sandboxes send signed webhooks for
their demo contacts, and reads the CEM fields back from the sandbox CRMs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.base import ConnectionInfo, ProvisionReport
from connector.app import create_app
from connector.config import Settings
from connector.connections import (
    create_connection,
    crm_signing_secret,
    new_webhook_secret,
    remembered_settings,
    with_webhook_registration,
)
from connector.registry import Platform, available_platforms, get_platform
from connector.runtime import Runtime, set_runtime
from connector.store import WrittenValues
from sandbox import sandbox_class
from sandbox.dataset import ADDED_REASON_ARCHETYPES, demo_records
from sandbox.server import ServerThread

# The demo's engine config: the defaults plus a churn reason an admin added without code (late_delivery).
DEMO_ENGINE_CONFIG = Path(__file__).with_name("engine.toml")
ADDED_STORIES = 3  # scripted contacts per CRM for each admin-added reason the data set has stories for


@dataclass
class DemoPlatform:
    platform: Platform
    sandbox: Any
    connection_id: int
    contact_ids: list[str]
    names: dict[str, str] = field(default_factory=dict)  # native id -> person
    expected: dict[str, dict[str, str]] = field(default_factory=dict)  # native id -> scripted story


@dataclass
class DemoRun:
    runtime: Runtime
    server: ServerThread
    worker: subprocess.Popen[bytes]
    platforms: list[DemoPlatform]
    started: float
    data_dir: Path
    added_reasons: tuple[str, ...] = ()  # reasons of the engine config that are not packaged, with demo stories

    def stop(self) -> None:
        self.worker.terminate()
        try:
            self.worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.worker.kill()
        for item in self.platforms:
            item.sandbox.stop()
        self.server.stop()
        set_runtime(None)
        self.runtime.close()


def start_demo(*, platform_names: list[str] | None, contacts: int, data_dir: Path,
               say: Callable[[str], None] = print, port: int = 0,
               engine_config: Path | None = DEMO_ENGINE_CONFIG) -> DemoRun:
    data_dir = data_dir.expanduser().resolve()
    shutil.rmtree(data_dir, ignore_errors=True)  # each demo starts from a clean slate
    # always the embedded laptop defaults, whatever this shell exports for a real deployment
    env = {"CEM_LOG_LEVEL": "WARNING", **os.environ, "CEM_DATA_DIR": str(data_dir), "CEM_ENV": "development"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if engine_config is not None:  # the worker process reads the same file: one config for install and analysis
        env["CEM_ENGINE_CONFIG"] = str(engine_config.expanduser().resolve())
    settings = Settings.from_env(env)
    runtime = Runtime(settings)
    set_runtime(runtime)
    server = ServerThread(create_app(runtime), port=port)
    runtime.settings = replace(settings, public_url=server.url)
    server.start()
    say(f"Connector listening on {server.url} (SQLite in {data_dir}, embedded Redis)")

    taxonomy = runtime.engine_config.taxonomy
    added = tuple(name for name in ADDED_REASON_ARCHETYPES if name in taxonomy.reasons)
    records = demo_records(contacts, added={name: ADDED_STORIES for name in added})
    if added:
        say(f"Engine config {settings.engine_config}: admin-added churn reason(s) "
            f"{', '.join(f'{n} ({taxonomy.label(n)!r})' for n in added)}, {ADDED_STORIES} scripted contacts each")
    chosen = [get_platform(n) for n in platform_names] if platform_names else available_platforms()
    platforms = [_connect(runtime, p, records, say) for p in chosen]

    worker_env = {**env, "REDIS_URL": runtime.redis_url, "CEM_PUBLIC_URL": server.url}
    worker = subprocess.Popen([sys.executable, "-m", "connector.cli", "worker"], env=worker_env)
    return DemoRun(runtime, server, worker, platforms, time.monotonic(), data_dir, added)


def _connect(runtime: Runtime, platform: Platform, records: list[dict[str, Any]],
             say: Callable[[str], None]) -> DemoPlatform:
    sandbox = sandbox_class(platform.name)()
    sandbox.seed(records)
    sandbox.start()
    connection_id, _, report = connect_sandbox(runtime, platform, sandbox, name="demo")
    created = sum(1 for s in report.steps if s.action != "unchanged")
    item = DemoPlatform(platform, sandbox, connection_id, sandbox.contact_ids())
    for record in records:
        if record.get("record") == "contact":
            native = sandbox.native_contact_id(record["contact_id"])
            item.names[native] = f"{record.get('first_name', '')} {record.get('last_name', '')}".strip()
            item.expected[native] = record.get("expected") or {}
    say(f"{platform.label} sandbox on {sandbox.url}: {len(item.contact_ids)} contacts, "
        f"{created} install steps applied, webhooks -> connection {connection_id}")
    return item


def connect_sandbox(runtime: Runtime, platform: Platform, sandbox: Any, *,
                    name: str) -> tuple[int, str, ProvisionReport]:
    """Wire a running sandbox CRM to the connector as an admin would: check the connection, store it
    (with what the check learnt), install the CEM fields, point the CRM's webhooks at us.
    Returns (connection id, webhook secret, install report)."""
    settings, credentials = sandbox.connection_settings()
    adapter_cls = platform.adapter_class()
    secret = crm_signing_secret(adapter_cls, credentials) or new_webhook_secret()
    facts = adapter_cls(ConnectionInfo(0, platform.name, settings, credentials)).check_connection()
    settings = remembered_settings(adapter_cls, settings, facts)
    account_id = str(facts.get("account_id") or "") or None

    def save() -> int:
        return create_connection(runtime.store, runtime.box, platform=platform.name, name=name, settings=settings,
                                 credentials=credentials, webhook_secrets=[secret], account_id=account_id)

    connection_id = save()
    url = f"{runtime.settings.public_url}/webhooks/{platform.name}/{connection_id}"
    if adapter_cls.webhook_registration:  # as `connect` does: install (and its --dry-run plan) knows the webhook
        settings, credentials = with_webhook_registration(adapter_cls, url, secret, settings, credentials)
        save()
    report = runtime.adapter(connection_id).provision()
    sandbox.subscribe(url, secret)
    return connection_id, secret, report


def emit_all(run: DemoRun) -> int:
    return sum(item.sandbox.emit_contact_changes(item.contact_ids) for item in run.platforms)


def written_count(run: DemoRun) -> int:
    with run.runtime.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(WrittenValues)) or 0)


def wait_until_written(run: DemoRun, timeout: float, tick: Callable[[int, int], None]) -> bool:
    total = sum(len(item.contact_ids) for item in run.platforms)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = written_count(run)
        tick(done, total)
        if done >= total:
            return True
        if run.worker.poll() is not None:
            raise RuntimeError(f"The worker process exited with code {run.worker.returncode}; see its output above.")
        time.sleep(0.25)
    return False


@dataclass(frozen=True)
class StoryMatch:
    """How many contacts of one CRM ended with the scripted stage and churn reason."""

    label: str
    contacts: int
    stage: int
    reason: int
    misses: list[str]  # every one: "<name> (<contact id>): journey stage adoption (story: at_risk)"
    added: int = 0  # contacts whose story is an admin-added reason ...
    added_reason: int = 0  # ... and how many of them the CRM shows with that reason


def story_matches(rows: list[dict[str, Any]], *, added_reasons: tuple[str, ...] = ()) -> list[StoryMatch]:
    """Stage and churn reason read back from each CRM against the data set's scripted story;
    ``added_reasons``: the engine config's own reasons, counted apart as well."""
    results = []
    for label in dict.fromkeys(row["platform"] for row in rows):
        mine = [row for row in rows if row["platform"] == label and row.get("expected")]
        misses: list[str] = []
        counts = {"journey_stage": 0, "churn_reason": 0}
        for row in mine:
            for key in counts:
                if row.get(key) == row["expected"].get(key):
                    counts[key] += 1
                else:  # all of them: a sample hid most differences (and all of some CRMs')
                    who = f"{row['name']} ({row['contact_id']})" if row.get("contact_id") else row["name"]
                    misses.append(f"{who}: {key.replace('_', ' ')} "
                                  f"{row.get(key) or '-'} (story: {row['expected'].get(key)})")
        added = [row for row in mine if row["expected"].get("churn_reason") in added_reasons]
        results.append(StoryMatch(label, len(mine), counts["journey_stage"], counts["churn_reason"], misses,
                                  len(added), sum(row.get("churn_reason") == row["expected"]["churn_reason"]
                                                  for row in added)))
    return results


def read_back(run: DemoRun) -> list[dict[str, Any]]:
    """The CEM fields as the sandbox CRMs hold them, read through each platform's real API."""
    rows: list[dict[str, Any]] = []
    for item in run.platforms:
        adapter = run.runtime.adapter(item.connection_id)
        values = adapter.read_fields(item.contact_ids)
        for contact_id in item.contact_ids:
            fields = values.get(contact_id, {})
            rows.append({"platform": item.platform.label, "contact_id": contact_id,
                         "name": item.names.get(contact_id, contact_id), "expected": item.expected.get(contact_id, {}),
                         **fields})
    return rows
