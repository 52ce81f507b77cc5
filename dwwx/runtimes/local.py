"""The embedded runtime: the services as local processes under supervisord."""

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import text
from supervisor.xmlrpc import SupervisorTransport

from dwwx import catalogue, draining, ports
from dwwx.catalogue import Service, Target
from dwwx.errors import DwwxError
from dwwx.manifests import heartbeat_file, local_target, render_supervisord
from dwwx.runtimes import (
    ProcessStatus,
    QueryResult,
    entry_url,
    print_log_line,
    query_cell,
    running_record,
    service_url,
)
from dwwx.settings import Settings
from dwwx.state import MARKER, KeptData, Record, StateDir

log = logging.getLogger(__name__)

LOG_TAIL_ON_FAILURE = 20


class LocalRuntime:
    """Run a manifest version as processes of a supervisord of the project's own."""

    name = "local"

    def __init__(self, settings: Settings, state: StateDir) -> None:
        self.settings = settings
        self.state = state

    @property
    def config_file(self) -> Path:
        return self.state.path / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.state.run / "supervisor.sock"

    @property
    def pidfile(self) -> Path:
        return self.state.run / "supervisord.pid"

    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def supervisor_pid(self) -> int | None:
        """Return supervisord's pid when it runs and answers, else None."""
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            self._rpc().supervisor.getState()
        except (OSError, ValueError, xmlrpc.client.Error):
            return None
        return pid

    # ---- up ------------------------------------------------------------------

    def up(self, version: str, *, scale: Mapping[str, int]) -> str:
        """Start or upgrade in place to a version; wait until it is healthy."""
        self.state.create()
        target = local_target(self.settings, self.state, scale)
        services = catalogue.services(version, target)
        self._check_socket_path()

        running = self.supervisor_pid() is not None
        self._check_ports(services, ours=self._our_pids() if running else set())
        previous = self.state.load() if running else None
        if target.local_postgres is not None:
            password = self.state.secrets()["DATABASE_PASSWORD"]
            target.local_postgres.initialise(password)
        self.config_file.write_text(
            render_supervisord(version, self.settings, self.state, scale)
        )
        if running:
            if draining.drops_the_handler(previous, services):
                self._drain_the_queue(target)
            self._apply_config()
        else:
            self._start_supervisord()

        self.state.save(running_record(self.name, version, self.settings, target))
        own_data = self.settings.database_url is None
        self.state.keep_data(
            KeptData(self.name, target.database_engine) if own_data else None
        )
        self._wait_until_healthy(services, target)
        return entry_url(version, target)

    def _check_socket_path(self) -> None:
        # AF_UNIX paths are limited to about 100 bytes on Linux and macOS.
        if len(str(self.socket)) > 100:
            raise DwwxError(
                f"state folder path {self.state.path} is too long for a control "
                "socket; pass a shorter --state-dir"
            )

    def _our_pids(self) -> set[int]:
        info = self._rpc().supervisor.getAllProcessInfo()
        return {entry["pid"] for entry in info if entry["pid"]}

    def _check_ports(self, services: list[Service], *, ours: set[int]) -> None:
        for service in services:
            wanted = [service.port, _monitor_port(service)]
            for port in (p for p in wanted if p is not None):
                ports.require_free(
                    port,
                    needed_by=service.name,
                    entry_port=self.settings.port,
                    ours=ours,
                )

    def _start_supervisord(self) -> None:
        argv = [sys.executable, "-m", "supervisor.supervisord"]
        argv += ["-c", str(self.config_file)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DwwxError(_failed(argv, result))
        deadline = time.monotonic() + 15
        while self.supervisor_pid() is None:
            if time.monotonic() > deadline:
                raise DwwxError(
                    "supervisord did not answer within 15 s; see "
                    f"{self.state.logs / 'supervisord.log'}"
                )
            time.sleep(0.1)

    def _apply_config(self) -> None:
        """Restart what changed, start what is new, stop what went away."""
        rpc = self._rpc()
        added, changed, removed = rpc.supervisor.reloadConfig()[0]
        log.debug("config: added %s changed %s removed %s", added, changed, removed)
        for group in [*removed, *changed]:
            with contextlib.suppress(xmlrpc.client.Fault):
                rpc.supervisor.stopProcessGroup(group, True)
            rpc.supervisor.removeProcessGroup(group)
        for group in [*changed, *added]:
            rpc.supervisor.addProcessGroup(group)

    def _drain_the_queue(self, target: Target) -> None:
        rpc = self._rpc()
        url = draining.consumers_url(target.ports.queue_monitor)
        draining.drain_queue(
            stop_web=lambda: rpc.supervisor.stopProcessGroup(catalogue.WEB, True),
            start_web=lambda: rpc.supervisor.startProcessGroup(catalogue.WEB, True),
            read_report=lambda: _http_get(url),
            timeout=self.settings.health_timeout,
        )

    def _wait_until_healthy(self, services: list[Service], target: Target) -> None:
        deadline = time.monotonic() + self.settings.health_timeout
        waiting = {service.name: service for service in services}
        while waiting:
            self._fail_on_dead_process()
            for name, service in list(waiting.items()):
                if self._healthy(service, target):
                    del waiting[name]
            if not waiting:
                return
            if time.monotonic() > deadline:
                name = sorted(waiting)[0]
                raise DwwxError(
                    f"{name} is not healthy after {self.settings.health_timeout:.0f} s"
                    + self._log_tail(name)
                )
            time.sleep(0.2)

    def _fail_on_dead_process(self) -> None:
        for entry in self._rpc().supervisor.getAllProcessInfo():
            if entry["statename"] in ("FATAL", "BACKOFF", "EXITED"):
                raise DwwxError(
                    f"{entry['name']} failed to start ({entry['statename']})"
                    + self._log_tail(entry["name"])
                )

    def _healthy(self, service: Service, target: Target) -> bool:
        """Healthy means supervisord calls every copy RUNNING and the check passes.

        supervisord says RUNNING only after ``startsecs``; an HTTP answer can
        come sooner, so both are needed before ``ps`` agrees with ``up``.
        """
        health = service.health
        if health.kind == "database":
            if target.local_postgres is None:
                return True  # SQLite is a file, a server URL is checked on use
            password = self.state.secrets()["DATABASE_PASSWORD"]
            return self._all_running(service) and target.local_postgres.answers(
                password
            )
        if not self._all_running(service):
            return False
        if health.kind == "http":
            return _http_ok(health.url())
        return all(
            _touched_since(heartbeat_file(self.state, entry["name"]), entry["start"])
            for entry in self._copies(service.name)
        )

    def _copies(self, service: str) -> list[dict[str, Any]]:
        """Return supervisord's process info of each copy of a service."""
        return [
            entry
            for entry in self._rpc().supervisor.getAllProcessInfo()
            if catalogue.service_of(entry["group"]) == service
        ]

    def _all_running(self, service: Service) -> bool:
        states = [entry["statename"] for entry in self._copies(service.name)]
        return bool(states) and all(state == "RUNNING" for state in states)

    def _log_tail(self, process: str) -> str:
        files = self._log_files(process)
        if not files:
            return ""
        lines = _tail_lines(files[0], LOG_TAIL_ON_FAILURE)
        shown = "\n".join(f"  {line}" for line in lines)
        return f"; last lines of {files[0]}:\n{shown}"

    # ---- down, ps, logs, verify-db ------------------------------------------------

    def down(self, *, volumes: bool) -> bool:
        """Stop supervisord and every service; with volumes, delete the data."""
        self.state.check()
        pid = self.supervisor_pid()
        if pid is not None:
            rpc = self._rpc()
            rpc.supervisor.stopAllProcesses(True)
            rpc.supervisor.shutdown()
            _wait_for_exit(pid, timeout=30)
        if (self.state.path / MARKER).exists():
            self.state.save(None)
            if volumes:
                self.state.keep_data(None)
        if volumes:
            shutil.rmtree(self.state.data, ignore_errors=True)
        return pid is not None

    def record(self) -> Record:
        """Return what runs, or raise saying how to start it."""
        record = self.state.load()
        if record is None or self.supervisor_pid() is None:
            raise DwwxError(
                f"nothing is running from {self.state.path}; start it with: dwwx up v4"
            )
        return record

    def _target(self, record: Record) -> Target:
        return local_target(self.settings, self.state, record.scale)

    def status(self) -> list[ProcessStatus]:
        """List the database and every process with its state and URL."""
        record = self.record()
        target = self._target(record)
        services = {s.name: s for s in catalogue.services(record.version, target)}
        rows = []
        if catalogue.DB in services and target.database_engine == "sqlite":
            rows.append(
                ProcessStatus(
                    service=catalogue.DB,
                    name=catalogue.DB,
                    state="FILE",
                    pid=None,
                    uptime_seconds=None,
                    url=target.database_url,
                )
            )
        for entry in self._rpc().supervisor.getAllProcessInfo():
            running = entry["statename"] == "RUNNING"
            rows.append(
                ProcessStatus(
                    service=catalogue.service_of(entry["group"]),
                    name=entry["name"],
                    state=entry["statename"],
                    pid=entry["pid"] or None,
                    uptime_seconds=entry["now"] - entry["start"] if running else None,
                    url=service_url(
                        services[catalogue.service_of(entry["group"])],
                        record.version,
                        target,
                    ),
                )
            )
        return rows

    def _log_files(self, service: str) -> list[Path]:
        """Return the log of each copy of a service that supervisord runs now."""
        names = [entry["name"] for entry in self._copies(service)]
        paths = [self.state.logs / f"{name}.log" for name in names]
        existing = [path for path in paths if path.exists()]
        return sorted(existing, key=lambda path: _copy_number(path.stem))

    def logs(
        self, services: list[str], *, follow: bool, tail: int | None, console: Console
    ) -> None:
        """Print the last lines of each copy's log, prefixed, then follow them."""
        record = self.record()
        live = {
            s.name for s in catalogue.services(record.version, self._target(record))
        }
        files = []
        for service in services:
            if service not in live:
                raise DwwxError(
                    f"{service} is not part of the running {record.version}"
                )
            files += self._log_files(service)
        prefixes = {path: path.stem for path in files}
        width = max((len(p) for p in prefixes.values()), default=0)
        # Measured once: the tail ends, and following starts, at the same byte.
        sizes = _sizes(files)
        for path, line in _interleave(files, tail, sizes):
            print_log_line(console, prefixes[path], width, line)
        if follow:
            for path, line in _follow(files, sizes):
                print_log_line(console, prefixes[path], width, line)
                # A pipe (`dwwx logs -f | grep`) must see each line as it comes.
                console.file.flush()

    def query_prospects(self, *, odbc: bool = False) -> QueryResult:
        """Run SELECT * FROM Prospects against the project's database."""
        from src_apps.shared.database import make_engine

        if odbc:
            raise DwwxError(
                "--odbc queries the database server of the docker runtime; "
                "drop it: the local runtime queries its database directly",
                exit_code=2,
            )
        record = self.record()
        target = self._target(record)
        password = self.state.secrets().get("DATABASE_PASSWORD")
        is_sqlite = target.database_engine == "sqlite"
        engine = make_engine(
            target.database_url, password=None if is_sqlite else password
        )
        try:
            with engine.connect() as conn:
                result = conn.execute(text("SELECT * FROM Prospects"))
                columns = list(result.keys())
                rows = [tuple(query_cell(v) for v in row) for row in result]
        except Exception as exc:
            raise DwwxError(f"cannot query {target.database_url}: {exc}") from None
        finally:
            engine.dispose()
        return QueryResult(columns=columns, rows=rows)


def _http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def _monitor_port(service: Service) -> int | None:
    if service.name == catalogue.QUEUE:
        return service.health.port
    return None


def _http_ok(url: str | None) -> bool:
    if url is None:
        return False
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _touched_since(path: Path, started: float) -> bool:
    """Say whether a copy's loop has turned since supervisord started it."""
    try:
        return path.stat().st_mtime >= started
    except OSError:
        return False


def _failed(argv: list[str], result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(argv)
    output = (result.stderr or result.stdout).strip()
    return f"`{command}` failed with exit code {result.returncode}: {output}"


def _wait_for_exit(pid: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    raise DwwxError(f"supervisord (pid {pid}) did not stop within {timeout:.0f} s")


def _copy_number(stem: str) -> int:
    number = stem.rsplit("-", 1)[-1]
    return int(number) if number.isdigit() else 0


def _tail_lines(path: Path, count: int | None, *, upto: int | None = None) -> list[str]:
    """Return the last count lines (all for None) of the file's first upto bytes."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    lines = data[:upto].decode(errors="replace").splitlines()
    return lines if count is None else lines[-count:] if count else []


def _sizes(files: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_size if path.exists() else 0 for path in files}


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+")


def _interleave(
    files: list[Path], tail: int | None, sizes: dict[Path, int]
) -> list[tuple[Path, str]]:
    """Merge the copies' logs by their lines' timestamps, keeping each file's order."""
    entries = []
    for path in files:
        stamp = ""
        for line in _tail_lines(path, tail, upto=sizes[path]):
            # A line without a timestamp (a traceback) stays with the one before.
            match = _TIMESTAMP.match(line)
            stamp = match.group(0).replace("T", " ") if match else stamp
            entries.append((stamp, path, line))
    entries.sort(key=lambda entry: entry[0])
    return [(path, line) for _, path, line in entries]


def _follow(files: list[Path], offsets: dict[Path, int]) -> Iterator[tuple[Path, str]]:
    """Yield lines appended to the files after the offsets, until interrupted."""
    partial = dict.fromkeys(files, b"")
    while True:
        for path in files:
            chunk = b""
            with contextlib.suppress(OSError), path.open("rb") as handle:
                handle.seek(offsets[path])
                chunk = handle.read()
                offsets[path] = handle.tell()
            *complete, partial[path] = (partial[path] + chunk).split(b"\n")
            yield from ((path, line.decode(errors="replace")) for line in complete)
        time.sleep(0.2)
