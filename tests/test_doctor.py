"""dwwx doctor: one row per thing either runtime needs, with a fix when absent."""

import socket

import pytest


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")


def _row(out: str, check: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"│ {check} "))


def test_doctor_reports_every_check(project):
    out = project.ok("doctor")

    for check in (
        "docker client",
        "docker engine",
        "compose plugin",
        "buildx",
        "free ports",
        "ODBC drivers",
        "nats-server",
        "caddy",
        "supervisord",
    ):
        assert _row(out, check)
    assert f"{project.port}-{project.port + 6}" in _row(out, "free ports")
    assert "│ ok " in _row(out, "supervisord")


def test_a_taken_port_is_named_with_its_fix(project):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", project.port + 3))
        sock.listen()

        row = _row(project.ok("doctor"), "free ports")

    assert "missing" in row
    assert f"port {project.port + 3} is taken by" in row
    assert "pass --port to move the block" in row


def test_without_a_docker_command_doctor_says_how_to_go_on(project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    out = project.ok("doctor")

    assert "install Docker, or use --runtime local" in _row(out, "docker client")
    assert "missing" in _row(out, "docker engine")
    assert "│ ok " in _row(out, "nats-server")
