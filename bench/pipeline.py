"""Pipeline benchmarks, each a ratio against a baseline run side by side in the same process.

1. Reading contacts for analysis: batched ``fetch_contacts`` against one ``fetch_contact`` per contact,
   on the HubSpot sandbox over real HTTP (API calls and wall time). API calls decide whether a
   backfill fits in a CRM's rate limit; the ratio is the point, not the milliseconds.
2. Webhook intake: the full receiver (verify signature v3, parse, dedupe and enqueue on Redis) against a
   bare Flask endpoint that answers 200, both over loopback HTTP, 100-event HubSpot batches.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import requests
from flask import Flask
from rich.console import Console
from rich.table import Table

from adapters.base import ConnectionInfo
from adapters.hubspot import HubSpotAdapter
from sandbox.dataset import demo_records
from sandbox.hubspot import HubSpotSandbox
from sandbox.server import ServerThread
from webhooks.hubspot import signature_headers

CONTACTS = 50
INTAKE_REQUESTS = 150
console = Console()


def _adapter(sandbox: HubSpotSandbox) -> HubSpotAdapter:
    settings, credentials = sandbox.connection_settings()
    return HubSpotAdapter(ConnectionInfo(1, "hubspot", settings, credentials))


def bench_reads() -> tuple[list[str], ...]:
    # A generous rate limit so both runs measure work, not the sandbox's 10-second window.
    sandbox = HubSpotSandbox(rate_limit=1_000_000)
    sandbox.seed(demo_records(CONTACTS))
    sandbox.start()
    try:
        ids = sandbox.contact_ids()
        rows = []
        results = {}
        for name, run in (("one contact per call chain", lambda a: {i: a.fetch_contact(i) for i in ids}),
                          ("batched fetch_contacts", lambda a: a.fetch_contacts(ids))):
            adapter = _adapter(sandbox)
            before = len(sandbox.calls)
            started = time.perf_counter()
            results[name] = run(adapter)
            elapsed = time.perf_counter() - started
            rows.append((name, len(sandbox.calls) - before, elapsed))
        assert results["one contact per call chain"] == results["batched fetch_contacts"], "batching changed results"
    finally:
        sandbox.stop()
    (base_name, base_calls, base_time), (batch_name, batch_calls, batch_time) = rows
    return (
        [base_name, str(base_calls), f"{base_time * 1000:.0f} ms", "1.00"],
        [batch_name, str(batch_calls), f"{batch_time * 1000:.0f} ms",
         f"{batch_calls / base_calls:.3f} calls, {batch_time / base_time:.2f} time"],
    )


def bench_intake() -> tuple[list[str], ...]:
    from connector.app import create_app
    from connector.config import Settings
    from connector.connections import create_connection
    from connector.runtime import Runtime, set_runtime

    data_dir = Path(tempfile.mkdtemp(prefix="cem-bench-"))
    env = {"CEM_DATA_DIR": str(data_dir), "CEM_QUEUE": f"bench-{os.getpid()}", "CEM_LOG_LEVEL": "WARNING"}
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    runtime = Runtime(Settings.from_env(env))
    set_runtime(runtime)
    sandbox = HubSpotSandbox()  # only for its portal, app id and client secret; no server needed
    secret = sandbox.webhook_secret
    connection_id = create_connection(runtime.store, runtime.box, platform="hubspot", name="bench",
                                      settings={"portal_id": sandbox.portal_id, "app_id": sandbox.app_id},
                                      credentials={"access_token": "x"}, webhook_secrets=[secret],
                                      account_id=str(sandbox.portal_id))
    connector = ServerThread(create_app(runtime)).start()
    runtime.settings = replace(runtime.settings, public_url=connector.url)  # what HubSpot would have signed
    bare = Flask("baseline")
    bare.add_url_rule("/webhooks/hubspot/<int:cid>", "ok", lambda cid: ("", 200), methods=["POST"])
    baseline = ServerThread(bare).start()
    try:
        timings = {}
        for name, base_url in (("bare Flask endpoint (baseline)", baseline.url),
                               ("cem receiver: verify+parse+dedupe+enqueue", connector.url)):
            url = f"{base_url}/webhooks/hubspot/{connection_id}"
            session = requests.Session()
            samples = []
            for n in range(INTAKE_REQUESTS):
                body = _batch(sandbox.portal_id, sandbox.app_id, n)
                headers = _signed(secret, f"{connector.url}/webhooks/hubspot/{connection_id}", body)
                started = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=10)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            timings[name] = samples
        runtime.queue.rq.empty()
    finally:
        connector.stop()
        baseline.stop()
        sandbox.sender.stop()
        set_runtime(None)
        runtime.close()
    (base_name, base), (name, ours) = timings.items()
    base_p50, ours_p50 = statistics.median(base), statistics.median(ours)
    ours_p95 = statistics.quantiles(ours, n=20)[-1]
    return (
        [base_name, f"{base_p50 * 1000:.2f} ms", f"{statistics.quantiles(base, n=20)[-1] * 1000:.2f} ms", "1.00"],
        [name, f"{ours_p50 * 1000:.2f} ms", f"{ours_p95 * 1000:.2f} ms", f"{ours_p50 / base_p50:.2f}"],
    )


def _batch(portal_id: int, app_id: int, n: int) -> bytes:
    import json

    events = [{"eventId": n * 1000 + i, "subscriptionId": 25, "portalId": portal_id, "appId": app_id,
               "occurredAt": 1789603200000 + i, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
               "objectId": 101 + i, "propertyName": "lifecyclestage", "propertyValue": "customer",
               "changeSource": "CRM_UI"} for i in range(100)]
    return json.dumps(events).encode()


def _signed(secret: str, url: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", **signature_headers(secret, url, body)}


def _print(title: str, columns: tuple[str, ...], rows: tuple[list[str], ...]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _print(f"Reading {CONTACTS} contacts with their interactions (HubSpot sandbox, loopback HTTP)",
           ("method", "API calls", "wall time", "ratio vs per-contact"), bench_reads())
    _print(f"Webhook intake, {INTAKE_REQUESTS} signed batches of 100 events (loopback HTTP)",
           ("endpoint", "p50", "p95", "p50 ratio vs bare Flask"), bench_intake())


if __name__ == "__main__":
    main()
