"""v1 on the local runtime, through the CLI: up, sign up, verify-db, logs, down."""

import os
import re
import selectors
import subprocess
import sys
import time

import httpx

from dwwx.signup import _FormReader


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _web_pid(project) -> int:
    out = project.ok("ps")
    match = re.search(r"signup-web\s+│\s+RUNNING\s+│\s+(\d+)", out)
    assert match, out
    return int(match.group(1))


def test_sign_up_reaches_the_database_and_down_leaves_nothing(project):
    out = project.ok("up", "v1")
    assert f"v1 is up on the local runtime: http://localhost:{project.port}/" in out
    web_pid = _web_pid(project)
    supervisor = project.supervisor_pid()

    out = project.ok("signup", "--email", "grace@example.com", "--role", "DA")
    assert "accepted 1 of 1 sign-ups" in out
    assert "found grace@example.com" in project.ok(
        "verify-db", "--email", "grace@example.com"
    )
    assert "prospect saved" in project.ok("logs", "web", "--tail", "50")

    assert "stopped" in project.ok("down")
    assert not _pid_alive(web_pid)
    assert supervisor is not None and not _pid_alive(supervisor)
    assert (project.state_dir / "data" / "signup.db").exists()


def test_invalid_submission_shows_the_message_and_stores_nothing(project):
    project.ok("up", "v1")

    with httpx.Client(base_url=project.app_url) as browser:
        form = _FormReader()
        form.feed(browser.get("/signup").text)
        answer = browser.post(
            "/signup",
            data=form.hidden
            | {
                "first_name": "Ada",
                "last_name": "",
                "company_name": "Engines",
                "email_address": "ada-at-example",
                "role_code": "EN",
                "country_code": "GBR",
            },
        )

    assert answer.status_code == 422
    assert "Last name is required." in answer.text
    assert "Enter a valid email address, like ada@example.com." in answer.text
    assert 'value="Engines"' in answer.text
    assert "0 rows" in project.ok("verify-db")
    result = project.dwwx("verify-db", "--email", "ada-at-example")
    assert result.code == 1
    assert result.err == "dwwx: no sign-up for ada-at-example in the database\n"


def test_up_again_is_idempotent(project):
    project.ok("up", "v1")
    first = _web_pid(project)

    project.ok("up", "v1")

    assert _web_pid(project) == first


def test_down_with_volumes_deletes_the_data(project):
    project.ok("up", "v1")
    project.ok("signup", "--email", "ada@example.com")

    project.ok("down", "--volumes")
    project.ok("up", "v1")

    assert "0 rows" in project.ok("verify-db")


def test_logs_follow_prints_new_lines_as_they_come(project):
    project.ok("up", "v1")
    argv = [sys.executable, "-m", "dwwx", "--state-dir", str(project.state_dir)]
    argv += ["--port", str(project.port), "--runtime", "local"]
    follower = subprocess.Popen(
        [*argv, "logs", "web", "-f", "--tail", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(follower.stdout, selectors.EVENT_READ)
        # The tail's one line says the follower has read up to the end.
        assert selector.select(timeout=20), "logs -f printed no tail"
        seen = [follower.stdout.readline()]
        project.ok("signup", "--email", "follow@example.com")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            "prospect saved" in line for line in seen
        ):
            if selector.select(timeout=1):
                seen.append(follower.stdout.readline())
        assert any("email=follow@example.com" in line for line in seen), seen
        assert all(line.startswith("signup-web | ") for line in seen)
    finally:
        follower.terminate()
        follower.wait(timeout=10)
