"""dwwx doctor: one row per thing either runtime needs, with a fix when absent."""

import socket

import pytest

from dwwx.doctor import odbc_finding
from tests.services import need


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
        "PostgreSQL server",
    ):
        assert _row(out, check)
    assert f"{project.port}-{project.port + 6}" in _row(out, "free ports")
    assert "│ ok " in _row(out, "supervisord")


@pytest.mark.parametrize("running", [False, True], ids=["idle", "running"])
def test_a_foreign_holder_is_named_with_its_fix(project, running):
    if running:
        project.ok("up", "v1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", project.port + 3))
        sock.listen()

        row = _row(project.ok("doctor"), "free ports")

    assert "missing" in row
    assert f"port {project.port + 3} is taken by" in row
    assert "pass --port to move the block" in row
    # The project's own entry port is not named among the foreign ones.
    assert f"port {project.port} " not in row


def test_without_a_docker_command_doctor_says_how_to_go_on(project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    out = project.ok("doctor")

    assert "install Docker, or use --runtime local" in _row(out, "docker client")
    assert "missing" in _row(out, "docker engine")
    assert "│ ok " in _row(out, "nats-server")


def test_ports_held_by_the_running_project_are_not_missing(project):
    project.ok("up", "v1")

    row = _row(project.ok("doctor"), "free ports")

    assert "│ ok " in row
    assert f": {project.port} held by" in row
    assert "held by this project's v1 (local runtime)" in row


def test_a_missing_postgres_server_is_optional_with_its_fix(
    project, monkeypatch, tmp_path
):
    monkeypatch.setenv("DWWX_POSTGRES_BIN", str(tmp_path))

    row = _row(project.ok("doctor"), "PostgreSQL server")

    assert "optional" in row
    assert f"DWWX_POSTGRES_BIN={tmp_path} holds no postgres" in row
    assert "install PostgreSQL" in row


@pytest.mark.parametrize(
    ("installed", "engine", "outcome", "detail", "fix"),
    [
        (
            ["PostgreSQL ANSI", "PostgreSQL Unicode"],
            "postgres",
            "ok",
            "PostgreSQL Unicode (postgres); "
            "verify-db --odbc on postgres uses PostgreSQL Unicode",
            "",
        ),
        (
            ["FreeTDS", "ODBC Driver 17 for SQL Server", "PostgreSQL Unicode"],
            "mssql",
            "ok",
            "ODBC Driver 17 for SQL Server (mssql), FreeTDS (mssql), "
            "PostgreSQL Unicode (postgres); "
            "verify-db --odbc on mssql uses ODBC Driver 17 for SQL Server",
            "",
        ),
        (
            ["PostgreSQL Unicode"],
            "mssql",
            "optional",
            "PostgreSQL Unicode (postgres); "
            "none for mssql, which verify-db --odbc would query",
            "install Microsoft's ODBC Driver 18 for SQL Server, or FreeTDS "
            "(Debian: tdsodbc), for verify-db --odbc",
        ),
        (
            ["PostgreSQL ANSI"],
            "postgres",
            "optional",
            "no usable driver; none for postgres, which verify-db --odbc would query",
            "install the PostgreSQL Unicode ODBC driver (Debian: odbc-postgresql), "
            "for verify-db --odbc",
        ),
        (
            ["FreeTDS"],
            "sqlite",
            "optional",
            "FreeTDS (mssql); "
            "verify-db --odbc needs the docker runtime's postgres or mssql",
            "",
        ),
        (
            None,
            "postgres",
            "optional",
            "pyodbc is not installed (needed by verify-db --odbc)",
            "pip install 'dwwx[mssql]' and install the PostgreSQL Unicode ODBC "
            "driver (Debian: odbc-postgresql)",
        ),
    ],
    ids=[
        "postgres",
        "mssql-17",
        "mssql-none",
        "postgres-ansi-only",
        "sqlite",
        "no-pyodbc",
    ],
)
def test_odbc_row_names_usable_drivers_and_the_one_odbc_would_use(
    installed, engine, outcome, detail, fix
):
    finding = odbc_finding(installed, engine)

    assert (finding.outcome, finding.detail, finding.fix) == (outcome, detail, fix)


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        (None, "verify-db --odbc on postgres uses PostgreSQL Unicode"),
        ("mssql", "none for mssql, which verify-db --odbc would query"),
    ],
)
def test_doctor_names_the_driver_odbc_would_use_for_the_db(project, db, expected):
    try:
        import pyodbc
    except ImportError:
        need("pyodbc", "install the test extra: pip install -e '.[test]'")
    if "PostgreSQL Unicode" not in pyodbc.drivers():
        need("the PostgreSQL ODBC driver", "install Debian's odbc-postgresql")

    args = ("doctor",) if db is None else ("--db", db, "doctor")
    row = _row(project.ok(*args), "ODBC drivers")

    assert expected in row
