"""The local runtime's own PostgreSQL (--db postgres): made once, kept, deleted."""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dwwx.errors import DwwxError
from dwwx.localdb import find_bin_dir
from tests.dwwx_project import Project, free_port_block
from tests.services import need, wait_for


@pytest.fixture
def pg_project(capsys: pytest.CaptureFixture[str]) -> Iterator[Project]:
    """A project in a folder the server's user can enter when tests run as root."""
    try:
        find_bin_dir(None)
    except DwwxError as exc:
        need("PostgreSQL's server programs", str(exc))
    # pytest's own temporary tree is open to root only.
    base = Path(tempfile.mkdtemp(prefix="dwwx-local-pg-"))
    base.chmod(0o755)
    proj = Project(path=base, port=free_port_block(), capsys=capsys)
    try:
        yield proj
    finally:
        proj.tear_down()
        shutil.rmtree(base, ignore_errors=True)


def _db_pid(project: Project) -> int:
    match = re.search(r"signup-db\s+│\s+RUNNING\s+│\s+(\d+)", project.ok("ps"))
    assert match, project.ok("ps")
    return int(match.group(1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_project_runs_keeps_and_deletes_its_own_postgres(pg_project, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    project = pg_project

    project.ok("--db", "postgres", "up", "v1")
    db_pid = _db_pid(project)
    assert f"postgresql://dwwx@127.0.0.1:{project.port + 6}/signup" in project.ok("ps")
    data = project.state_dir / "data" / "postgres"
    assert (data / "PG_VERSION").exists()
    if os.geteuid() == 0:
        assert data.owner() == "postgres"
        assert stat.S_IMODE(project.state_dir.stat().st_mode) == 0o701
    project.ok("signup", "--email", "v1@example.com")

    project.ok("up", "v4")
    assert _db_pid(project) == db_pid, "the database restarted in the upgrade"
    project.ok("signup", "--email", "v4@example.com")
    wait_for(
        lambda: project.dwwx("verify-db", "--email", "v4@example.com").code == 0,
        timeout=30,
        what="the handler to save the v4 sign-up",
    )

    switch = project.dwwx("--db", "sqlite", "up", "v4")
    assert switch.code == 2
    assert "v4 runs on postgres here; run `dwwx down` before switching" in switch.err

    project.ok("down")
    assert not _alive(db_pid)
    # After a plain down the folder keeps its engine and its rows.
    project.ok("up", "v3")
    assert "found v1@example.com" in project.ok(
        "verify-db", "--email", "v1@example.com"
    )
    assert "— 2 rows" in project.ok("verify-db")

    server = _db_pid(project)
    assert "data deleted" in project.ok("down", "--volumes")
    assert not _alive(server)
    assert not data.exists()
    project.ok("up", "v1")
    assert "sqlite:///" in project.ok("ps")


def test_a_folder_without_the_server_is_named_with_the_fix(
    project, tmp_path, monkeypatch
):
    empty = tmp_path / "no-postgres-here"
    empty.mkdir()
    monkeypatch.setenv("DWWX_POSTGRES_BIN", str(empty))

    result = project.dwwx("--db", "postgres", "up", "v1")

    assert result.code == 1
    assert f"DWWX_POSTGRES_BIN={empty} holds no postgres and initdb" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.skipif(
    os.geteuid() != 0, reason="only root runs the server as another user"
)
def test_as_root_a_state_folder_the_server_cannot_enter_is_refused(project):
    # pytest's temporary tree is open to root only.
    result = project.dwwx("--db", "postgres", "up", "v1")

    assert result.code == 1
    assert "the local PostgreSQL runs as user postgres, which cannot enter" in (
        result.err
    )
    assert "pass a --state-dir it can reach" in result.err
    assert project.supervisor_pid() is None


def test_a_database_outage_in_v4_loses_no_sign_up(pg_project):
    """The web takes sign-ups while the server is stopped; the handler saves them."""
    project = pg_project
    project.ok("--db", "postgres", "up", "v4")
    conf = str(project.state_dir / "supervisord.conf")
    ctl = [sys.executable, "-m", "supervisor.supervisorctl", "-c", conf]
    subprocess.run([*ctl, "stop", "signup-db"], check=True, capture_output=True)

    out = project.ok("signup", "--count", "20")
    assert "accepted 20 of 20" in out
    assert project.dwwx("verify-db").code == 1  # the database is away
    wait_for(
        lambda: "Save failed, retrying in" in project.ok("logs", "handler"),
        timeout=30,
        what="the handler to nak while the database is away",
    )

    subprocess.run([*ctl, "start", "signup-db"], check=True, capture_output=True)
    wait_for(
        lambda: "— 20 rows" in project.ok("verify-db"),
        timeout=60,
        what="20 rows after the database is back",
    )
