"""Webhook intake under the Procfile's gunicorn, load from a separate process; and dedupe memory.

1. Single-event HubSpot deliveries (Dataverse sends one record per request, so this is the costly
   shape), signed v3, each with a new event id, against the connector's ``web`` process exactly as
   the Procfile runs it, and against a bare Flask endpoint under the same gunicorn settings (the
   baseline). Deliveries per second and their ratio; Redis commands per delivery (INFO stats).
2. Dedupe memory: bytes of Redis per remembered delivery id after 100,000 ids (MEMORY USAGE).

    python -m bench.intake [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from tests.faults.redis_server import PrivateRedis, free_port
from webhooks.events import CONTACT_CHANGED, ChangeEvent

REPO = Path(__file__).resolve().parents[1]
PORTAL_ID, APP_ID = 62515, 1160452
DEDUPE_IDS = 100_000
ROUNDS = 7  # alternating pairs; odd, so the median is one round's figure
WARM_UP = 300  # deliveries per server before measuring, discarded


def procfile_web(port: int, app: str) -> list[str]:
    """The Procfile's `web` command with its defaults, bound to loopback, serving ``app`` (the gunicorn
    config it names reads PORT, CEM_BIND_HOST and WEB_CONCURRENCY from the environment: see bench_ingest)."""
    line = next(x for x in (REPO / "Procfile").read_text().splitlines() if x.startswith("web:"))
    words = shlex.split(line.split(":", 1)[1])
    expanded = [os.path.expandvars(w.replace("${WEB_CONCURRENCY:-2}", "2").replace("${PORT:-8000}", str(port)))
                for w in words]
    expanded = ["127.0.0.1:" + str(port) if w.startswith("0.0.0.0:") else w for w in expanded]
    expanded[-1] = app
    return [str(Path(sys.executable).parent / expanded[0]), *expanded[1:]]


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError("gunicorn did not start")


def _deliveries(secret: str, base_url: str, connection_id: int, count: int, offset: int) -> list[list[Any]]:
    path = f"/webhooks/hubspot/{connection_id}"
    out = []
    for n in range(offset, offset + count):
        body = json.dumps([{"eventId": n, "subscriptionId": 25, "portalId": PORTAL_ID, "appId": APP_ID,
                            "occurredAt": 1789603200000 + n, "subscriptionType": "contact.propertyChange",
                            "attemptNumber": 0, "objectId": 101 + n % 100, "propertyName": "lifecyclestage",
                            "propertyValue": "customer", "changeSource": "CRM_UI"}])
        timestamp = str(int(time.time() * 1000))
        digest = hmac.new(secret.encode(), ("POST" + base_url + path + body + timestamp).encode(),
                          hashlib.sha256).digest()
        out.append([path, {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": timestamp,
                           "X-HubSpot-Signature-v3": base64.b64encode(digest).decode()}, body])
    return out


def _load(port: int, requests: list[list[Any]], directory: Path, concurrency: int) -> dict[str, Any]:
    path = directory / f"requests-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(requests))
    done = subprocess.run([sys.executable, "-m", "bench._load", "127.0.0.1", str(port), str(path), str(concurrency)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_ingest(requests: int, concurrency: int, directory: Path, redis: PrivateRedis) -> list[list[str]]:
    from connector.config import Settings
    from connector.connections import create_connection
    from connector.runtime import Runtime

    port = free_port()
    env = {**os.environ, "CEM_DATA_DIR": str(directory / "data"), "DATABASE_URL": f"sqlite:///{directory / 'cem.db'}",
           "REDIS_URL": redis.url, "CEM_QUEUE": f"bench-{uuid.uuid4().hex[:6]}",
           "CEM_SECRET_KEY": Fernet.generate_key().decode(), "CEM_ADMIN_TOKEN": uuid.uuid4().hex,
           "CEM_SIGNING_KEY": uuid.uuid4().hex, "CEM_LOG_LEVEL": "WARNING",
           "CEM_PUBLIC_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(REPO),
           "PORT": str(port), "CEM_BIND_HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"}
    runtime = Runtime(Settings.from_env(env))
    secret = "bench-" + uuid.uuid4().hex
    connection_id = create_connection(runtime.store, runtime.box, platform="hubspot", name="bench",
                                      settings={"portal_id": PORTAL_ID, "app_id": APP_ID},
                                      credentials={"access_token": "x"}, webhook_secrets=[secret],
                                      account_id=str(PORTAL_ID))
    results: dict[str, list[float]] = {"bare": [], "cem": []}
    load_cpu: list[float] = []
    commands: list[tuple[float, float]] = []
    offset = 0
    # Both servers run for the whole measurement, each on its own port, and every round measures them
    # back to back (the order flips each round): a round's ratio compares two runs seconds apart, so the
    # shared machine's drift hits both alike. The connector's port is the one CEM_PUBLIC_URL names
    # (signatures cover the URL); the idle server waits in select() and costs nothing meanwhile.
    ports = {"bare": free_port(), "cem": port}
    apps = {"bare": "bench._bare:app", "cem": "connector.app:create_app()"}
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, app in apps.items():
            servers[name] = subprocess.Popen(procfile_web(ports[name], app), cwd=REPO,
                                             env={**env, "PORT": str(ports[name])},
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in apps:
            _wait_port(ports[name], servers[name])
        for name in apps:  # warm-up, discarded: imports, first connections, the connection-row cache
            _load(ports[name], _deliveries(secret, env["CEM_PUBLIC_URL"], connection_id, WARM_UP, offset),
                  directory, concurrency)
            offset += WARM_UP
        for rounds in range(ROUNDS):
            for name in (("bare", "cem") if rounds % 2 == 0 else ("cem", "bare")):
                batch = _deliveries(secret, env["CEM_PUBLIC_URL"], connection_id, requests, offset)
                offset += requests
                runtime.redis.config_resetstat()
                outcome = _load(ports[name], batch, directory, concurrency)
                stats = runtime.redis.info("commandstats")
                if outcome["statuses"].get("200", 0) != requests:
                    raise RuntimeError(f"{name}: not every delivery accepted: {outcome['statuses']}")
                results[name].append(requests / outcome["seconds"])
                load_cpu.append(outcome["cpu"] / outcome["seconds"])
                if name == "cem" and not commands:
                    # a script's inner calls count as commands too: report scripts and the rest apart
                    scripts = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
                    total = sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")
                    commands.append((scripts / requests, total / requests))
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=30)
        runtime.close()
    bare, cem = statistics.median(results["bare"]), statistics.median(results["cem"])
    ratios = [c / b for b, c in zip(results["bare"], results["cem"], strict=True)]  # each round's own pair
    return [["bare Flask endpoint (baseline)", _spread(results["bare"], ",.0f"), "-", "1.00"],
            ["cem receiver: verify + parse + dedupe + enqueue", _spread(results["cem"], ",.0f"),
             f"{commands[0][0]:.2f} scripts, {commands[0][1]:.1f} commands",
             f"{cem / bare:.2f}; per round {_spread(ratios, '.2f')}"],
            ["load generator (one process, its threads)", f"CPU {_spread(load_cpu, '.0%')} of one core", "-", "-"]]


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def bench_dedupe_memory(redis: PrivateRedis) -> list[list[str]]:
    """Remember DEDUPE_IDS delivery ids through the queue's own intake and weigh what it keeps."""
    import redis as redis_lib

    from connector.queue import JobQueue

    client = redis_lib.Redis.from_url(redis.url)
    queue = JobQueue(client, f"dedupe-{uuid.uuid4().hex[:6]}")
    waiting = 0.0
    for start in range(0, DEDUPE_IDS, 100):
        queue.deliveries.accept(7, [ChangeEvent(platform="hubspot", kind=CONTACT_CHANGED, object_type="contact",
                                     object_id=str(101 + i % 100), event_id=f"62515:25:{start + i}:1789603200{i:03d}",
                                     occurred_at=_epoch()) for i in range(100)])
        if (start + 100) % 10_000 == 0:  # what 10,000 waiting events weigh, then play the worker
            if not waiting:
                waiting = sum(int(client.memory_usage(k, samples=0) or 0) for pattern in
                              (f"{queue.prefix}inbox*", "rq:job:*") for k in client.scan_iter(match=pattern)) / 10_000
            claimed = queue.deliveries.claim(7, 20_000, "bench:1")
            if claimed:
                queue.deliveries.release(claimed[0])
    keys = list(client.scan_iter(match=f"{queue.prefix}seen*"))
    used = sum(int(client.memory_usage(k, samples=0) or 0) for k in keys)
    client.delete(*client.keys(f"{queue.prefix}*"))
    queue.rq.empty()
    return [["delivery ids remembered", f"{DEDUPE_IDS:,}"], ["Redis bytes for them", f"{used:,}"],
            ["bytes per id (aim <= 40)", f"{used / DEDUPE_IDS:.1f}"],
            ["bytes per event waiting for a worker (inbox or RQ jobs)", f"{waiting:.0f}"]]


def _epoch() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 9, 17, tzinfo=UTC)


def _print(console: Console, title: str, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per server per round")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv or [])
    console = Console(width=None if sys.stdout.isatty() else 160)
    directory = Path(tempfile.mkdtemp(prefix="cem-bench-intake-"))
    with PrivateRedis(directory / "redis") as redis:
        load = os.getloadavg()[0]
        _print(console, f"Ingest: {args.requests:,} single-event deliveries under the Procfile's gunicorn "
                        f"(2 workers x 4 threads), {args.concurrency} connections from another process; "
                        f"load average {load:.1f} at the start",
               ("endpoint", f"deliveries/s, median (min-max) of {ROUNDS}", "Redis per delivery (scripts; all commands)",
                "ratio vs bare (medians; per round)"),
               bench_ingest(args.requests, args.concurrency, directory, redis))
        _print(console, "Dedupe memory", ("measure", "value"), bench_dedupe_memory(redis))


if __name__ == "__main__":
    main(sys.argv[1:])
