"""A service that cannot start, or whose port is taken, is named with the cause."""

import socket

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


def test_an_upgrade_onto_a_taken_port_is_refused_and_the_old_version_runs(
    project, lab_images
):
    project.ok("up", "v1")
    queue_port = project.port + 4
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", queue_port))
        sock.listen()

        result = project.dwwx("up", "v4")

    assert result.code == 1
    assert f"port {queue_port} is taken by" in result.err
    assert "needed by message-queue" in result.err
    ps = project.ok("ps")
    assert "v1 on the docker runtime" in ps
    assert "HEALTHY" in ps
