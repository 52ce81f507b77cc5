"""Drive dwwx in-process against a project folder of the test's own."""

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dwwx.cli import run
from tests.services import free_port


def free_port_block(size: int = 8) -> int:
    """Return the first of `size` consecutive free loopback ports."""
    from dwwx.ports import is_free

    for _ in range(200):
        base = free_port()
        if base + size < 65000 and all(is_free(base + i) for i in range(size)):
            return base
    raise AssertionError("no block of free ports found")


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Project:
    """A dwwx project in a temporary folder, on its own block of ports."""

    path: Path
    port: int
    capsys: pytest.CaptureFixture[str]
    runtime: str = "local"

    @property
    def state_dir(self) -> Path:
        return self.path / ".dwwx"

    def dwwx(self, *args: str) -> Result:
        """Run one dwwx command and return its exit code and output."""
        self.capsys.readouterr()
        argv = ["--state-dir", str(self.state_dir), "--port", str(self.port)]
        code = run([*argv, "--runtime", self.runtime, *args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; return its output."""
        result = self.dwwx(*args)
        assert result.code == 0, f"dwwx {' '.join(args)} failed: {result.err}"
        return result.out

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def supervisor_pid(self) -> int | None:
        pidfile = self.state_dir / "run" / "supervisord.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text())
            os.kill(pid, 0)
            return pid
        return None

    def tear_down(self) -> None:
        """Bring everything down; stop supervisord by pid if down failed."""
        pid = self.supervisor_pid()
        self.dwwx("down")
        if pid is None or self.supervisor_pid() != pid:
            return
        # SIGTERM first: supervisord then stops its children, which SIGKILL
        # would leave behind.
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while self.supervisor_pid() == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.supervisor_pid() == pid:
            os.kill(pid, signal.SIGKILL)
