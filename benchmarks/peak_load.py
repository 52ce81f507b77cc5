"""Measure sign-ups under a burst: the sync save (v3) against the event (v4).

Run from the repository:

    .venv/bin/python benchmarks/peak_load.py [--count N] [--concurrency C] [--port P]
        [--db sqlite|postgres]

Each scenario starts its version fresh on the local runtime in a temporary
state folder, warms it up, then submits N generated prospects through the
proxy from C simulated browsers at once. The "locked" scenarios also block
writes to the prospects table from this process for a while in the middle of
the burst (SQLite: an exclusive write lock; PostgreSQL: LOCK TABLE in
EXCLUSIVE mode, which lets reads through): the sync save must wait for it
inside the request, the event does not. Everything is brought down at the
end, whatever happened.

The load generator runs on the same machine as every service, so the figures
measure the whole box under load, not the web alone.
"""

import argparse
import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from dwwx.errors import DwwxError
from dwwx.localdb import find_bin_dir
from dwwx.ports import is_free
from dwwx.signup import Summary, generated_prospect, sign_up_many
from dwwx.state import read_env_file
from src_apps.shared.database import make_engine, prospects

log = logging.getLogger("peak_load")

PORT_BLOCK = 8
DRAIN_TIMEOUT = 180.0
POLL_INTERVAL = 0.05


class BenchmarkError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


@dataclass(frozen=True)
class Scenario:
    """One measured run: a manifest version, with or without a locked database."""

    name: str
    version: str
    lock_seconds: float = 0.0


@dataclass
class Figures:
    """What one scenario measured."""

    scenario: str
    version: str
    submitted: int
    accepted: int
    wall_seconds: float
    sign_ups_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    stored_seconds: float | None
    rows_saved: int
    missing: int
    duplicates: int
    lock_held_seconds: float | None = None
    lock_from_seconds: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class LockWindow:
    """When, relative to the burst's start, the benchmark held the write lock."""

    acquired_at: float | None = None
    released_at: float | None = None
    error: str | None = None


class Project:
    """A dwwx project on the local runtime, driven through its CLI."""

    def __init__(self, state_dir: Path, port: int, db: str) -> None:
        self.state_dir = state_dir
        self.port = port
        self.db = db

    def move_to(self, port: int) -> None:
        """Use another block of ports from the next `up` on."""
        self.port = port

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/app/"

    def database(self) -> Engine:
        """Connect to the project's database as its services do."""
        if self.db == "sqlite":
            return make_engine(f"sqlite:///{self.state_dir / 'data' / 'signup.db'}")
        password = read_env_file(self.state_dir / "secrets.env")["DATABASE_PASSWORD"]
        url = f"postgresql+psycopg://dwwx@127.0.0.1:{self.port + 6}/signup"
        return make_engine(url, password=password)

    def dwwx(self, *args: str) -> str:
        """Run one dwwx command; raise with its output when it fails."""
        command = [sys.executable, "-m", "dwwx", "--state-dir", str(self.state_dir)]
        command += ["--port", str(self.port), "--runtime", "local", "--db", self.db]
        command += args
        log.debug("running %s", " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchmarkError(
                f"dwwx {' '.join(args)} exited {result.returncode}: "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout

    def supervisor_pid(self) -> int | None:
        """Return the pid of this project's supervisord while it runs."""
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.state_dir / "run" / "supervisord.pid").read_text())
            os.kill(pid, 0)
            return pid
        return None

    def down(self) -> None:
        """Stop everything and delete the data; kill supervisord if that fails."""
        pid = self.supervisor_pid()
        try:
            self.dwwx("down", "--volumes")
        except BenchmarkError as exc:
            log.warning("%s", exc)
        if pid is not None and self.supervisor_pid() == pid:
            log.warning("supervisord %d outlived dwwx down; killing it", pid)
            os.kill(pid, signal.SIGKILL)


def free_port_block(size: int = PORT_BLOCK) -> int:
    """Return the first of `size` consecutive free loopback ports."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + size < 65000 and all(is_free(base + i) for i in range(size)):
            return base
    raise BenchmarkError("no block of free loopback ports found; pass --port")


def count_rows(engine: Engine) -> int:
    """Return how many prospects the database holds."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(prospects)) or 0)


def wait_for_rows(engine: Engine, expected: int, *, since: float) -> float:
    """Wait until the database holds `expected` rows; return seconds since `since`."""
    deadline = time.perf_counter() + DRAIN_TIMEOUT
    while (rows := count_rows(engine)) < expected:
        if time.perf_counter() > deadline:
            raise BenchmarkError(
                f"only {rows} of {expected} rows stored after {DRAIN_TIMEOUT:.0f} s"
            )
        time.sleep(POLL_INTERVAL)
    return time.perf_counter() - since


def hold_write_lock(
    engine: Engine, window: LockWindow, *, start: float, after: float, seconds: float
) -> None:
    """Block writes to the prospects table for a while, from `after` s past `start`."""
    time.sleep(max(0.0, start + after - time.perf_counter()))
    if engine.dialect.name == "sqlite":
        _hold_sqlite_lock(str(engine.url.database), window, start, seconds)
        return
    try:
        with engine.connect() as conn:
            # EXCLUSIVE mode stops every write to the table and lets reads through.
            conn.execute(text("LOCK TABLE prospects IN EXCLUSIVE MODE"))
            window.acquired_at = time.perf_counter() - start
            time.sleep(seconds)
            conn.commit()
            window.released_at = time.perf_counter() - start
    except SQLAlchemyError as exc:
        window.error = str(exc)


def _hold_sqlite_lock(
    database: str, window: LockWindow, start: float, seconds: float
) -> None:
    try:
        conn = sqlite3.connect(database, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            window.acquired_at = time.perf_counter() - start
            time.sleep(seconds)
            conn.execute("COMMIT")
            window.released_at = time.perf_counter() - start
        finally:
            conn.close()
    except sqlite3.Error as exc:
        window.error = str(exc)


def stored_emails(engine: Engine) -> tuple[set[str], int]:
    """Return the stored email addresses and how many of them occur twice or more."""
    with engine.connect() as conn:
        emails = list(conn.scalars(select(prospects.c.email_address)))
    return set(emails), len(emails) - len(set(emails))


def run_scenario(
    project: Project, scenario: Scenario, options: argparse.Namespace
) -> Figures:
    """Bring a version up fresh, burst sign-ups at it, measure, bring it down."""
    log.info("%s: bringing %s up", scenario.name, scenario.version)
    project.dwwx("up", scenario.version)
    engine = project.database()
    try:
        return _measure(project, engine, scenario, options)
    finally:
        engine.dispose()
        if options.logs:
            # The state folder goes with the run; its logs explain refusals.
            kept = options.logs / scenario.name.replace(",", "").replace(" ", "-")
            shutil.copytree(project.state_dir / "logs", kept, dirs_exist_ok=True)
        project.down()


def _measure(
    project: Project,
    engine: Engine,
    scenario: Scenario,
    options: argparse.Namespace,
) -> Figures:
    warm_up = [generated_prospect(-n) for n in range(1, options.warm_up + 1)]
    warmed = sign_up_many(project.app_url, warm_up, concurrency=4)
    if warmed.accepted != len(warm_up):
        raise BenchmarkError(f"{scenario.name}: warm-up sign-ups were refused")
    wait_for_rows(engine, len(warm_up), since=time.perf_counter())

    burst = [generated_prospect(n) for n in range(1, options.count + 1)]
    window = LockWindow()
    log.info(
        "%s: %d sign-ups from %d browsers",
        scenario.name,
        len(burst),
        options.concurrency,
    )
    start = time.perf_counter()
    locker = None
    if scenario.lock_seconds:
        locker = threading.Thread(
            target=hold_write_lock,
            args=(engine, window),
            kwargs={
                "start": start,
                "after": options.lock_after,
                "seconds": scenario.lock_seconds,
            },
        )
        locker.start()
    summary = sign_up_many(project.app_url, burst, concurrency=options.concurrency)
    stored_seconds = wait_for_rows(engine, len(warm_up) + summary.accepted, since=start)
    if locker is not None:
        locker.join()
        if window.error:
            raise BenchmarkError(f"{scenario.name}: lock failed: {window.error}")

    emails, duplicates = stored_emails(engine)
    accepted = {o.email for o in summary.outcomes if o.accepted}
    return _figures(
        scenario,
        summary,
        stored_seconds=stored_seconds,
        rows_saved=len(emails & accepted),
        missing=len(accepted - emails),
        duplicates=duplicates,
        window=window,
    )


def _figures(
    scenario: Scenario,
    summary: Summary,
    *,
    stored_seconds: float,
    rows_saved: int,
    missing: int,
    duplicates: int,
    window: LockWindow,
) -> Figures:
    statuses: dict[str, int] = {}
    for outcome in summary.outcomes:
        statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
    held = None
    if window.acquired_at is not None and window.released_at is not None:
        held = window.released_at - window.acquired_at
    return Figures(
        scenario=scenario.name,
        version=scenario.version,
        submitted=len(summary.outcomes),
        accepted=summary.accepted,
        wall_seconds=summary.seconds,
        sign_ups_per_second=summary.accepted / summary.seconds,
        p50_ms=summary.latency_percentile(0.50) * 1000,
        p95_ms=summary.latency_percentile(0.95) * 1000,
        p99_ms=summary.latency_percentile(0.99) * 1000,
        max_ms=summary.latency_percentile(1.0) * 1000,
        stored_seconds=stored_seconds,
        rows_saved=rows_saved,
        missing=missing,
        duplicates=duplicates,
        lock_held_seconds=held,
        lock_from_seconds=window.acquired_at,
        statuses=statuses,
    )


def format_table(results: Sequence[Figures]) -> str:
    """Lay the figures out as a plain-text table."""
    header = (
        "scenario",
        "accepted",
        "wall s",
        "sign-ups/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "all stored s",
        "saved once",
        "lock held",
    )
    rows = [header]
    for f in results:
        lock = "-"
        if f.lock_held_seconds is not None and f.lock_from_seconds is not None:
            lock = f"{f.lock_held_seconds:.1f} s from {f.lock_from_seconds:.1f} s"
        once = f.missing == 0 and f.duplicates == 0 and f.rows_saved == f.accepted
        rows.append(
            (
                f.scenario,
                f"{f.accepted}/{f.submitted}",
                f"{f.wall_seconds:.2f}",
                f"{f.sign_ups_per_second:.0f}",
                f"{f.p50_ms:.0f}",
                f"{f.p95_ms:.0f}",
                f"{f.p99_ms:.0f}",
                f"{f.max_ms:.0f}",
                "-" if f.stored_seconds is None else f"{f.stored_seconds:.2f}",
                "yes" if once else f"NO ({f.missing} lost, {f.duplicates} twice)",
                lock,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def scenarios(lock_seconds: float) -> list[Scenario]:
    """Return the scenarios in the order they run."""
    plain = [Scenario("v3 sync", "v3"), Scenario("v4 async", "v4")]
    if not lock_seconds:
        return plain
    locked = [
        Scenario("v3 sync, db locked", "v3", lock_seconds),
        Scenario("v4 async, db locked", "v4", lock_seconds),
    ]
    return [*plain, *locked]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Measure sign-up latency and throughput under a burst: "
        "v3 (sync save to the database) against v4 (event on JetStream, handler "
        "saves).",
    )
    parser.add_argument("--count", type=int, default=500, help="sign-ups per burst")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="simulated browsers at once"
    )
    parser.add_argument(
        "--port",
        type=int,
        help="first entry port; scenario i uses P+8i and the 7 ports above it "
        "[a free block each]",
    )
    parser.add_argument(
        "--warm-up", type=int, default=10, help="sign-ups before each burst"
    )
    parser.add_argument(
        "--lock-seconds",
        type=float,
        default=2.0,
        help="how long to hold the database's write lock; 0 skips those scenarios",
    )
    parser.add_argument(
        "--lock-after",
        type=float,
        default=1.0,
        help="seconds into the burst to take the lock",
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the database: a SQLite file, or the project's own PostgreSQL",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--logs", type=Path, help="keep each scenario's service logs in this folder"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args(argv)
    if options.count < 1 or options.concurrency < 1 or options.warm_up < 1:
        parser.error("--count, --concurrency and --warm-up must be at least 1")
    return options


def database_name(db: str) -> str:
    """Name the database engine and its version, for the figures' header."""
    if db == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    configured = os.environ.get("DWWX_POSTGRES_BIN")
    try:
        folder = find_bin_dir(Path(configured) if configured else None)
    except DwwxError:
        return "PostgreSQL"
    result = subprocess.run(
        [str(folder / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    words = result.stdout.split()
    return f"PostgreSQL {words[2]}" if len(words) > 2 else "PostgreSQL"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every scenario and print the table; return the exit code."""
    options = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if options.verbose else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # One line per request would drown the progress lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    load_before = os.getloadavg()[0]
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="dwwx-peak-load-") as tmp:
        # Under root the local PostgreSQL runs as its own user, who must be
        # able to enter the folder.
        Path(tmp).chmod(0o755)
        project = Project(Path(tmp) / ".dwwx", options.port or 0, options.db)
        try:
            for number, scenario in enumerate(scenarios(options.lock_seconds)):
                # A fresh block per scenario: the ports just closed linger in
                # TIME_WAIT, and dwwx up refuses a port it cannot bind.
                if options.port:
                    project.move_to(options.port + number * PORT_BLOCK)
                else:
                    project.move_to(free_port_block())
                results.append(run_scenario(project, scenario, options))
        except BenchmarkError as exc:
            log.error("%s", exc)
            return 1
        finally:
            if project.supervisor_pid() is not None:
                project.down()

    print(
        f"\n{options.count} sign-ups per burst, {options.concurrency} at once, "
        f"local runtime; {os.cpu_count()} CPUs shared by the load "
        f"generator and every service; Python {platform.python_version()}, "
        f"{database_name(options.db)}; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after\n"
    )
    print(format_table(results))
    if options.json:
        body = {
            "count": options.count,
            "database": database_name(options.db),
            "concurrency": options.concurrency,
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "results": [asdict(f) for f in results],
        }
        options.json.write_text(json.dumps(body, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
