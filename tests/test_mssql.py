"""SQL Server, as far as it can be checked without a server or an ODBC driver.

No SQL Server image and no ODBC driver can be had on the test machines, so
these tests pin what dwwx hands SQL Server: the DDL and the idempotent insert
compiled by SQLAlchemy's SQL Server dialect, the connection string pyodbc
would receive and the compose service. The insert logic SQL Server uses is
also run on a real SQLite database.
"""

import re

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.dialects import mssql, postgresql, sqlite
from sqlalchemy.dialects.mssql import pyodbc
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable

from dwwx.catalogue import Ports
from dwwx.errors import DwwxError
from dwwx.manifests import docker_target, render_compose
from dwwx.settings import Settings
from src_apps.shared import database
from src_apps.shared.messages import ProspectSignedUp
from tests.prospects import prospect

ADA = prospect()

ROW_COLUMNS = (
    "event_id, signed_up_at, first_name, last_name, company_name, "
    "email_address, role_code, country_code"
)


def mssql_settings(**overrides: object) -> Settings:
    """Settings for --db mssql, immune to DWWX_* variables of the caller."""
    values: dict[str, object] = {
        "db": "mssql",
        "port": 8020,
        "docker_network": "bridge",
        "mssql_image": "example/mssql:2022",
    }
    return Settings(**(values | overrides))


def sql_server_ddl(table) -> str:
    return " ".join(str(CreateTable(table).compile(dialect=mssql.dialect())).split())


def one_line(sql: object) -> str:
    return " ".join(str(sql).split())


# ---- DDL -------------------------------------------------------------------


@pytest.mark.parametrize("table", ["roles", "countries", "prospects"])
def test_tables_are_created_lower_case(table):
    ddl = sql_server_ddl(database.metadata.tables[table])

    assert ddl.startswith(f"CREATE TABLE {table} (")


@pytest.mark.parametrize("table", ["roles", "countries"])
def test_reference_tables_are_keyed_by_a_three_letter_code(table):
    ddl = sql_server_ddl(database.metadata.tables[table])

    assert "code VARCHAR(3) NOT NULL" in ddl
    assert "name VARCHAR(50) NOT NULL" in ddl
    assert "PRIMARY KEY (code)" in ddl


def test_prospects_id_is_an_identity_column():
    ddl = sql_server_ddl(database.prospects)

    assert "id INTEGER NOT NULL IDENTITY," in ddl
    assert "PRIMARY KEY (id)" in ddl


def test_prospects_event_id_is_unique():
    ddl = sql_server_ddl(database.prospects)

    assert "event_id VARCHAR(36) NOT NULL" in ddl
    assert "UNIQUE (event_id)" in ddl


@pytest.mark.parametrize(
    ("column", "sql_type"),
    [
        ("first_name", "NVARCHAR(50)"),
        ("last_name", "NVARCHAR(50)"),
        ("company_name", "NVARCHAR(50)"),
        ("email_address", "NVARCHAR(100)"),
        ("role_code", "VARCHAR(3)"),
        ("country_code", "VARCHAR(3)"),
        ("signed_up_at", "DATETIMEOFFSET"),
    ],
)
def test_prospects_columns_have_sql_server_types(column, sql_type):
    assert f"{column} {sql_type} NOT NULL" in sql_server_ddl(database.prospects)


def test_prospects_reference_roles_and_countries():
    ddl = sql_server_ddl(database.prospects)

    assert "FOREIGN KEY(role_code) REFERENCES roles (code)" in ddl
    assert "FOREIGN KEY(country_code) REFERENCES countries (code)" in ddl


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_names_stay_plain_varchar_on_other_engines(dialect):
    ddl = one_line(CreateTable(database.prospects).compile(dialect=dialect))

    assert "first_name VARCHAR(50) NOT NULL" in ddl
    assert "NVARCHAR" not in ddl


# ---- the idempotent insert -------------------------------------------------


def test_insert_if_absent_is_one_tsql_statement():
    event = ProspectSignedUp.new(ADA)
    statement = database.insert_if_absent_statement(database._row(event))

    compiled = statement.compile(dialect=pyodbc.dialect(paramstyle="qmark"))

    placeholders = ", ".join(f"? AS anon_{n}" for n in range(1, 9))
    assert one_line(compiled) == (
        f"INSERT INTO prospects ({ROW_COLUMNS}) SELECT {placeholders} "
        "WHERE NOT (EXISTS (SELECT * FROM prospects WHERE prospects.event_id = ?))"
    )


def test_insert_if_absent_binds_the_row_then_the_event_id():
    event = ProspectSignedUp.new(ADA)
    statement = database.insert_if_absent_statement(database._row(event))

    compiled = statement.compile(dialect=pyodbc.dialect(paramstyle="qmark"))
    params = compiled.construct_params()
    processors = compiled._bind_processors
    bound = [
        processors.get(key, lambda v: v)(params[key]) for key in compiled.positiontup
    ]

    assert bound[0] == bound[-1] == str(event.event_id)
    assert bound[2:8] == [
        "Ada",
        "Lovelace",
        "Analytical Engines",
        "ada@example.com",
        "EN",
        "GBR",
    ]
    # DATETIMEOFFSET takes its offset as text; pyodbc would drop a tzinfo.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00", bound[1])


def test_insert_if_absent_skips_stored_events_on_a_real_database(sqlite_url):
    engine = database.make_engine(sqlite_url)
    database.prepare_database(engine)
    ada, grace = ProspectSignedUp.new(ADA), ProspectSignedUp.new(ADA)
    try:
        with engine.begin() as conn:
            first = database._insert_if_absent(conn, [database._row(ada)])
        with engine.begin() as conn:
            rows = [database._row(ev) for ev in (ada, grace, grace)]
            second = database._insert_if_absent(conn, rows)
            ids = select(database.prospects.c.event_id, database.prospects.c.id)
            stored = dict(conn.execute(ids).all())
            count = conn.scalar(select(func.count()).select_from(database.prospects))
    finally:
        engine.dispose()

    assert list(first) == [str(ada.event_id)]
    assert list(second) == [str(grace.event_id)]
    assert count == 2
    assert stored == first | second


# ---- the connection URL ----------------------------------------------------


def test_connection_url_names_the_driver_and_trusts_the_certificate():
    url = make_url(docker_target(mssql_settings(), {}).database_url)

    assert url.drivername == "mssql+pyodbc"
    assert (url.username, url.password) == ("sa", None)
    assert (url.host, url.port, url.database) == ("signup-db", 1433, "master")
    assert url.query == {"driver": "FreeTDS", "TrustServerCertificate": "yes"}


def test_connection_url_uses_loopback_with_host_networking():
    url = make_url(
        docker_target(mssql_settings(docker_network="host"), {}).database_url
    )

    assert (url.host, url.port) == ("127.0.0.1", Ports(8020).database)


def test_odbc_connection_string_carries_the_password_given_apart():
    url = make_url(docker_target(mssql_settings(), {}).database_url)

    (connection_string,), _ = pyodbc.dialect().create_connect_args(
        url.set(password="Dw1-s3cret;x")
    )

    assert connection_string == (
        "DRIVER={FreeTDS};Server=signup-db,1433;Database=master;UID=sa;"
        "PWD={Dw1-s3cret;x};TrustServerCertificate=yes"
    )


# ---- the compose file ------------------------------------------------------


@pytest.fixture
def compose() -> dict:
    return yaml.safe_load(render_compose("v4", mssql_settings(), {}))


def test_compose_runs_sql_server_with_the_eula_accepted(compose):
    db = compose["services"]["signup-db"]

    assert db["image"] == "example/mssql:2022"
    assert db["environment"]["ACCEPT_EULA"] == "Y"
    assert db["environment"]["MSSQL_SA_PASSWORD"] == "${MSSQL_SA_PASSWORD}"
    assert db["volumes"] == ["signup-db-data:/var/opt/mssql"]
    assert "signup-db-data" in compose["volumes"]


def test_compose_checks_sql_server_health_with_sqlcmd(compose):
    test = compose["services"]["signup-db"]["healthcheck"]["test"]

    assert test[0] == "CMD-SHELL"
    assert "sqlcmd" in test[1]
    assert '-P "$$MSSQL_SA_PASSWORD"' in test[1]
    assert '-Q "SELECT 1"' in test[1]


@pytest.mark.parametrize(
    "service", ["signup-web", "reference-data-api", "signup-save-handler"]
)
def test_apps_log_in_with_the_sa_password(compose, service):
    environment = compose["services"][service]["environment"]

    assert environment["DATABASE_PASSWORD"] == "${MSSQL_SA_PASSWORD}"
    assert environment["DATABASE_URL"].startswith("mssql+pyodbc://sa@signup-db:1433/")


def test_compose_holds_every_password_as_a_reference(compose):
    passwords = {
        f"{name}.{key}": value
        for name, service in compose["services"].items()
        for key, value in service.get("environment", {}).items()
        if key.endswith("PASSWORD")
    }

    assert passwords
    assert all(re.fullmatch(r"\$\{[A-Z_]+\}", v) for v in passwords.values()), passwords


def test_compose_without_an_image_names_the_setting(monkeypatch):
    monkeypatch.delenv("DWWX_MSSQL_IMAGE", raising=False)

    with pytest.raises(DwwxError) as error:
        render_compose("v1", mssql_settings(mssql_image=None), {})

    assert "DWWX_MSSQL_IMAGE" in str(error.value)
    assert error.value.exit_code == 2


def test_render_without_an_image_fails_with_one_line(project, monkeypatch):
    monkeypatch.delenv("DWWX_MSSQL_IMAGE", raising=False)

    result = project.dwwx("--db", "mssql", "render", "v1")

    assert result.code == 2
    assert "DWWX_MSSQL_IMAGE" in result.err
    assert "Traceback" not in result.err
