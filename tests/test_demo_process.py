"""The demo as a process: `demo --serve` tells how the CLI reaches its data (and the CLI then uses the port
really served); SIGTERM and SIGHUP stop the worker and the embedded Redis like Ctrl-C does."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


def start_demo(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, str]:
    log = tmp_path / "demo.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CEM_PUBLIC_URL")}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200")
    process = subprocess.Popen([str(BIN / "cem-connector"), "demo", "--serve", "--platform", "hubspot",
                                "--contacts", "6", "--data-dir", str(tmp_path / "demo")],
                               env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Press Ctrl-C to stop." in text:
            return process, log, text
        if process.poll() is not None:
            pytest.fail(f"demo exited early:\n{text}")
        time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail("demo did not reach --serve")


def redis_pid(data_dir: Path) -> int:
    settings = json.loads((data_dir / "redis.db.settings").read_text())
    return int(Path(settings["pidfile"]).read_text().strip())


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signals_stop_every_child_of_the_demo(tmp_path: Path, signum: int) -> None:
    process, log, _ = start_demo(tmp_path)
    try:
        children = descendants(process.pid)
        redis = redis_pid(tmp_path / "demo")
        assert children and alive(redis)
        os.kill(process.pid, signum)  # the demo only; it must take its children down itself
        process.wait(timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in {*children, redis}):
            time.sleep(0.2)
        survivors = [p for p in {*children, redis} if alive(p)]
        assert not survivors, f"still running after {signal.Signals(signum).name}: {survivors}\n{log.read_text()}"
        assert process.returncode == 128 + signum
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_serve_prints_how_the_cli_reaches_the_demo(tmp_path: Path) -> None:
    process, _, text = start_demo(tmp_path)
    try:
        served = re.search(r"Connector listening on (http://127\.0\.0\.1:\d+)", text).group(1)
        assert "Matches the scripted story:" in text and "HubSpot: journey stage " in text
        assert ", churn reason " in text
        # the demo's engine config adds late_delivery: 3 more scripted contacts, counted in the closing lines
        assert "admin-added late_delivery: 3/3)" in text
        export = re.search(r"export (CEM_DATA_DIR=\S+ CEM_PUBLIC_URL=\S+)", text).group(1)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(dict(item.split("=", 1) for item in shlex.split(export)))
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the printed commands, as an admin types them
        assert env["CEM_PUBLIC_URL"] == served
        status = subprocess.run([str(BIN / "cem-connector"), "status", "--json"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        [connection] = json.loads(status.stdout)["connections"]
        assert connection["webhook_url"].startswith(served) and connection["contacts_written"] == 6 + 3
        command = re.search(r"  (cem-connector journey-link .+)", text).group(1)
        link = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path).stdout.strip()
        assert link.startswith(f"{served}/journey/")
        assert requests.get(link, timeout=10).status_code == 200  # the demo serves it: same port, same key
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
