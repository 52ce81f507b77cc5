"""A service that cannot start is named with the last lines of its log."""

import pytest

pytestmark = pytest.mark.docker


def test_a_crashing_database_is_reported_with_its_log(project, monkeypatch):
    # The nats stand-in refuses the postgres command line and exits at once.
    monkeypatch.setenv("DWWX_POSTGRES_IMAGE", "dwwx-ci/nats:2.10")
    monkeypatch.setenv("DWWX_HEALTH_TIMEOUT", "30")

    result = project.dwwx("up", "v1")

    assert result.code == 1
    assert "dwwx: signup-db exited with code 1; last lines of its log:" in result.err
    assert 'unrecognized command: "postgres"' in result.err
    assert "signup-db-1" in project.ok("logs", "db", "--tail", "1")


def test_ps_before_up_says_how_to_start(project):
    result = project.dwwx("ps")

    assert result.code == 1
    assert f"nothing is running from {project.state_dir}" in result.err
    assert "start it with: dwwx up v4" in result.err
