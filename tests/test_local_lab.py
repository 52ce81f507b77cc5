"""The workshop's lab path on the local runtime: v1 to v4 in place, then scale out."""

import re
import subprocess
import sys

from tests.services import wait_for


def _pids(project) -> dict[str, int]:
    rows = re.findall(r"│ (\S+)\s+│ RUNNING\s+│ (\d+)", project.ok("ps"))
    return {name: int(pid) for name, pid in rows}


def _row_count(project) -> int:
    match = re.search(r"Prospects — (\d+) rows", project.ok("verify-db"))
    assert match
    return int(match.group(1))


def test_lab_path_from_v1_to_v4_and_scale_out(project):
    project.ok("up", "v1")
    project.ok("signup", "--email", "v1@example.com")

    project.ok("up", "v2")
    v2 = _pids(project)
    project.ok("up", "v3")
    v3 = _pids(project)
    project.ok("up", "v4")
    v4 = _pids(project)
    # Unchanged services keep running through the upgrades; the web restarts.
    assert v2["homepage"] == v3["homepage"] == v4["homepage"]
    assert v2["proxy"] == v4["proxy"]
    assert v3["reference-data-api"] == v4["reference-data-api"]
    assert v3["signup-web"] != v4["signup-web"]

    project.ok("signup", "--email", "v4@example.com")
    wait_for(
        lambda: project.dwwx("verify-db", "--email", "v4@example.com").code == 0,
        timeout=20,
        what="the v4 sign-up to be saved by the handler",
    )
    handler_log = project.ok("logs", "handler")
    assert "signup-save-handler-1 | " in handler_log
    assert "Prospect saved." in handler_log
    assert "found v1@example.com" in project.ok(
        "verify-db", "--email", "v1@example.com"
    )

    assert "signup-save-handler runs 3 copies" in project.ok("scale", "save-handler=3")
    scaled = _pids(project)
    copies = [name for name in scaled if name.startswith("signup-save-handler")]
    assert len(copies) == 3
    # Scaling adds copies; the one already running keeps going.
    assert scaled["signup-save-handler-1"] == v4["signup-save-handler-1"]

    out = project.ok("signup", "--count", "300", "--concurrency", "8")
    assert "accepted 300 of 300 sign-ups" in out
    wait_for(lambda: _row_count(project) == 302, timeout=60, what="302 rows")

    saved_by = re.findall(
        r"^(signup-save-handler-\d) \| .*Prospect saved",
        project.ok("logs", "handler"),
        re.M,
    )
    assert len(set(saved_by)) > 1, "only one copy saved sign-ups"

    project.ok("down")
    assert project.supervisor_pid() is None


def _supervisorctl(project, *args: str) -> None:
    conf = str(project.state_dir / "supervisord.conf")
    ctl = [sys.executable, "-m", "supervisor.supervisorctl", "-c", conf]
    subprocess.run([*ctl, *args], check=True, capture_output=True)


def test_downgrade_from_v4_to_v3_saves_synchronously_again(project):
    project.ok("up", "v4")
    project.ok("signup", "--email", "async@example.com")

    project.ok("up", "v3")

    names = set(_pids(project))
    assert "message-queue" not in names
    assert not [n for n in names if n.startswith("signup-save-handler")]
    # The downgrade waited for the handler: the v4 sign-up is in the database.
    assert "found async@example.com" in project.ok(
        "verify-db", "--email", "async@example.com"
    )
    project.ok("signup", "--email", "sync@example.com")
    assert "found sync@example.com" in project.ok(
        "verify-db", "--email", "sync@example.com"
    )


def test_downgrade_waits_for_unsaved_sign_ups_or_keeps_v4(project, monkeypatch):
    project.ok("up", "v4")
    _supervisorctl(project, "stop", "signup-save-handler-1")
    assert "accepted 3 of 3" in project.ok("signup", "--count", "3")

    monkeypatch.setenv("DWWX_HEALTH_TIMEOUT", "2")
    result = project.dwwx("up", "v3")

    assert result.code == 1
    assert result.err == (
        "dwwx: 3 sign-ups are still waiting for the save handler after 2 s, so the "
        "running version stays; see `dwwx logs handler`, then try again\n"
    )
    assert "message-queue" in _pids(project)
    assert "accepted 1 of 1" in project.ok("signup", "--email", "late@example.com")

    monkeypatch.delenv("DWWX_HEALTH_TIMEOUT")
    _supervisorctl(project, "start", "signup-save-handler-1")
    project.ok("up", "v3")

    assert _row_count(project) == 4


def test_handler_outage_loses_no_sign_up(project):
    """Sign-ups taken while the handler is stopped are all saved once it is back."""
    project.ok("up", "v4")
    _supervisorctl(project, "stop", "signup-save-handler-1")

    out = project.ok("signup", "--count", "20")
    assert "accepted 20 of 20" in out
    assert _row_count(project) == 0

    _supervisorctl(project, "start", "signup-save-handler-1")
    wait_for(
        lambda: _row_count(project) == 20, timeout=30, what="20 rows after restart"
    )


def test_handler_logs_interleave_copies_by_time(project):
    project.ok("up", "v4", "--scale", "save-handler=2")
    # up returns only once every copy's fetch loop has turned.
    listening = project.ok("logs", "handler").count("Listening on subject")
    assert listening == 2
    project.ok("signup", "--count", "20")
    wait_for(lambda: _row_count(project) == 20, timeout=30, what="20 rows")

    lines = project.ok("logs", "handler").splitlines()

    prefixes = {line.split(" | ")[0].strip() for line in lines}
    assert prefixes == {"signup-save-handler-1", "signup-save-handler-2"}
    stamps = [line.split(" | ", 1)[1][:23] for line in lines]
    assert stamps == sorted(stamps)
