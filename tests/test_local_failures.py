"""A service that does not come up is reported with the last lines of its log."""

import re

from tests.services import free_port


def test_service_that_crashes_is_reported_with_its_log(project, monkeypatch):
    # A driver that is not installed: the web exits as it starts.
    url = f"postgresql+nosuchdriver://dwwx@127.0.0.1:{free_port()}/signup"
    monkeypatch.setenv("DWWX_DATABASE_URL", url)

    result = project.dwwx("up", "v1")

    assert result.code == 1
    first, *tail = result.err.splitlines()
    log_file = project.state_dir / "logs" / "signup-web.log"
    states = "|".join(("BACKOFF", "FATAL"))
    assert re.fullmatch(
        rf"dwwx: signup-web failed to start \(({states})\); "
        rf"last lines of {re.escape(str(log_file))}:",
        first,
    ), first
    assert any(
        "Can't load plugin: sqlalchemy.dialects:postgresql.nosuchdriver" in line
        for line in tail
    ), result.err


def test_service_that_never_gets_healthy_is_reported_with_its_log(project, monkeypatch):
    # Nothing listens there: the web waits for its database and never answers.
    monkeypatch.setenv(
        "DWWX_DATABASE_URL", f"postgresql://dwwx@127.0.0.1:{free_port()}/signup"
    )
    monkeypatch.setenv("DWWX_HEALTH_TIMEOUT", "3")

    result = project.dwwx("up", "v1")

    assert result.code == 1
    log_file = project.state_dir / "logs" / "signup-web.log"
    first, *tail = result.err.splitlines()
    assert first == (
        f"dwwx: signup-web is not healthy after 3 s; last lines of {log_file}:"
    )
    assert any("database not ready yet" in line for line in tail), result.err
    assert len(tail) <= 20
