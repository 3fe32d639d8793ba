"""Shared by the record-view tests: a real engine profile stored for a contact, and signed card requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cem_engine.engine import analyze
from cem_engine.exchange import read_records
from connector.runtime import Runtime
from connector.store import ContactAnalysis

# An onboarding customer who is lost in the admin area: the engine finds onboarding_confusion with a quote.
SCENARIO: list[dict] = [
    {"record": "contact", "contact_id": "C", "lifecycle_stage": "customer", "created": "2026-03-10"},
    {"record": "deal", "contact_id": "C", "id": "d1", "name": "Team plan", "stage": "closedwon",
     "type": "new_business", "amount": 6000, "created": "2026-04-01", "close_date": "2026-05-01"},
    {"record": "interaction", "contact_id": "C", "id": "i1", "kind": "email", "direction": "outbound",
     "occurred_at": "2026-05-02T09:00:00Z", "subject": "Welcome aboard",
     "body": "Hi Jo, welcome! Here is your onboarding guide."},
    {"record": "interaction", "contact_id": "C", "id": "i2", "kind": "email", "direction": "inbound",
     "occurred_at": "2026-05-09T14:20:00Z", "subject": "Re: Welcome aboard",
     "body": "We're a week in and I'm honestly lost in the admin area. Which of the three permission screens "
             "gives managers access? The setup guide skips this part."},
    {"record": "interaction", "contact_id": "C", "id": "i3", "kind": "chat", "direction": "inbound",
     "occurred_at": "2026-05-19T10:05:00Z", "subject": "Chat",
     "body": "The CSV import keeps rejecting our file and the error doesn't say which column. I don't "
             "understand what format the import wizard wants."},
]
NOW = datetime(2026, 5, 25, tzinfo=UTC)


def store_profile(rt: Runtime, connection_id: int, contact_id: str) -> dict:
    """Analyse SCENARIO as ``contact_id`` and store the profile the way the worker does."""
    (data,) = read_records(json.dumps({**record, "contact_id": contact_id}) for record in SCENARIO)
    profile = analyze(data, now=NOW).to_dict()
    with rt.store.session() as session:
        session.merge(ContactAnalysis(connection_id=connection_id, contact_id=contact_id, profile=profile,
                                   desired={}, analyzed_at=NOW))
    return profile


def hubspot_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    """The headers HubSpot puts on a hubspot.fetch() request (request-validation guide, v3)."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), method.encode() + url.encode() + body + timestamp.encode(),
                      hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": timestamp}


def salesforce_signature(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """What the generated Apex (CemConnector.send) puts on its callouts."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-CEM-Signature": f"t={ts},v1={mac}"}


# -- the vendors' validators in crm-packages/ ----------------------------------------------------------------
CRM_PACKAGES = Path(__file__).resolve().parent.parent / "crm-packages"


def node_tool(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> dict:
    """Run a crm-packages/ script and return the JSON line it prints (skips without Node.js or `make crm-packages`)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the CRM vendors' validators cannot run here.")
    if not (CRM_PACKAGES / "node_modules" / ".installed").exists():
        pytest.skip("crm-packages/node_modules is missing: run `make crm-packages` (npm ci).")
    result = subprocess.run([node, str(CRM_PACKAGES / script), *args], capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **(env or {})}, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"{script} printed no result (exit {result.returncode}):\n{result.stdout}\n"
                             f"{result.stderr}")
    output = json.loads(lines[-1])
    output["exit_code"] = result.returncode
    return output


# -- a profile that came from a sandbox CRM through the real adapter and the worker's refresh job -----------
def sandbox_profile(rt: Runtime, platform: str, secret: str, **extra_settings: object):  # type: ignore[no-untyped-def]
    """Seed the platform's sandbox CRM with the scenario, connect it, run the refresh job in-process.

    Returns (sandbox, connection id, native contact id, stored profile); the caller stops the sandbox."""
    from adapters.base import ConnectionInfo
    from connector.connections import create_connection, remembered_settings
    from connector.jobs import refresh_contacts
    from connector.registry import get_platform
    from sandbox import sandbox_class

    sandbox = sandbox_class(platform)()
    sandbox.seed([{**record, "contact_id": "cem-card-1", "first_name": "Jo", "last_name": "Lee"}
                  if record["record"] == "contact" else {**record, "contact_id": "cem-card-1"}
                  for record in _recent(SCENARIO)])
    sandbox.start()
    settings, credentials = sandbox.connection_settings()
    adapter_cls = get_platform(platform).adapter_class()
    facts = adapter_cls(ConnectionInfo(0, platform, settings, credentials)).check_connection()
    connection_id = create_connection(
        rt.store, rt.box, platform=platform, name="card-view", credentials=credentials, webhook_secrets=[secret],
        settings={**remembered_settings(adapter_cls, settings, facts), **extra_settings},
        account_id=str(facts.get("account_id") or "") or None)
    contact_id = sandbox.native_contact_id("cem-card-1")
    rt.adapter(connection_id).provision()
    refresh_contacts(connection_id, [contact_id])
    with rt.store.session() as session:
        state = session.get(ContactAnalysis, (connection_id, contact_id))
        assert state is not None and state.profile, "the refresh job stored no profile"
        return sandbox, connection_id, contact_id, dict(state.profile)


def _recent(records: list[dict]) -> list[dict]:
    """The scenario moved so its last message is a few days old (the refresh job analyses as of now)."""
    shift = datetime.now(UTC) - NOW

    def moved(value: str) -> str:
        if len(value) == 10:
            return (datetime.fromisoformat(value).replace(tzinfo=UTC) + shift).date().isoformat()
        return (datetime.fromisoformat(value.replace("Z", "+00:00")) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")

    keys = ("created", "close_date", "occurred_at")
    return [{k: moved(v) if k in keys else v for k, v in record.items()} for record in records]


# -- headless Chromium ------------------------------------------------------------------------------------
def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("No Chromium: `apt-get install chromium` to render the web resource headless.")


def render_dom(chromium: str, url: str, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets pending fetches finish); loopback only: the
    connector's public host is mapped to 127.0.0.1."""
    result = subprocess.run(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--ignore-certificate-errors", "--host-resolver-rules=MAP cem.example.com 127.0.0.1",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0 and "<body" in result.stdout, result.stderr[-2000:]
    return result.stdout


def texts_by_data_id(dom: str) -> dict[str, str]:
    found = re.findall(r'<(\w+)[^>]*data-id="([\w-]+)"[^>]*>([^<]*)</\1>', dom)
    return {data_id: text.strip() for _, data_id, text in found}
