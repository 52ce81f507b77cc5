"""The docker runtime's queries: the command lines it builds and how it reads them."""

import sys

import pytest
from python_on_whales.exceptions import DockerException

from dwwx.catalogue import Ports, Target
from dwwx.errors import DwwxError
from dwwx.runtimes.docker import (
    describe_failure,
    odbc_connection_string,
    parse_csv,
    parse_sqlcmd,
    prospects_query_argv,
    query_odbc,
)


def _target(engine: str) -> Target:
    return Target(ports=Ports(9000), database_url="x://", database_engine=engine)


def test_postgres_query_runs_psql_as_the_workshop_does():
    argv = prospects_query_argv(_target("postgres"), host_network=False)

    assert argv == [
        "psql", "-p", "5432", "-U", "postgres", "-d", "signup",
        "--csv", "-c", "SELECT * FROM Prospects",
    ]  # fmt: skip


def test_postgres_query_uses_the_project_port_on_the_host_network():
    argv = prospects_query_argv(_target("postgres"), host_network=True)

    assert argv[1:3] == ["-p", "9006"]


@pytest.mark.parametrize(("host_network", "server"), [(False, "1433"), (True, "9006")])
def test_mssql_query_runs_sqlcmd_with_the_password_from_the_container(
    host_network, server
):
    argv = prospects_query_argv(_target("mssql"), host_network=host_network)

    assert argv == [
        "/bin/sh",
        "-c",
        f"/opt/mssql-tools18/bin/sqlcmd -C -S 127.0.0.1,{server} -U sa "
        '-P "$MSSQL_SA_PASSWORD" -d master '
        '-Q "SET NOCOUNT ON; SELECT * FROM Prospects" -s "," -W',
    ]


def test_psql_csv_output_becomes_columns_and_rows():
    output = 'id,email_address,company_name\n1,a@example.com,"Engines, Ltd"\n'

    result = parse_csv(output)

    assert result.columns == ["id", "email_address", "company_name"]
    assert result.rows == [("1", "a@example.com", "Engines, Ltd")]


def test_sqlcmd_output_drops_the_dash_line_and_nulls():
    output = "id,email_address,role_code\n--,-------------,---------\n1,a@x.com,NULL\n"

    result = parse_sqlcmd(output)

    assert result.columns == ["id", "email_address", "role_code"]
    assert result.rows == [("1", "a@x.com", "")]


def test_empty_output_is_an_empty_result():
    assert parse_csv("").rows == parse_sqlcmd("").rows == []


@pytest.mark.parametrize(
    ("engine", "driver", "expected"),
    [
        (
            "mssql",
            "ODBC Driver 18 for SQL Server",
            "DRIVER={ODBC Driver 18 for SQL Server};SERVER=127.0.0.1,9006;"
            "DATABASE=master;TrustServerCertificate=yes;UID=sa;PWD={p;w}",
        ),
        (
            "mssql",
            "FreeTDS",
            "DRIVER={FreeTDS};SERVER=127.0.0.1;PORT=9006;DATABASE=master;"
            "TDS_Version=7.4;UID=sa;PWD={p;w}",
        ),
        (
            "postgres",
            "PostgreSQL Unicode",
            "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=9006;"
            "DATABASE=signup;UID=postgres;PWD={p;w}",
        ),
    ],
)
def test_odbc_connection_strings_name_the_driver_port_and_login(
    engine, driver, expected
):
    connection = odbc_connection_string(_target(engine), driver=driver, password="p;w")

    assert connection == expected


def test_odbc_without_pyodbc_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyodbc", None)

    with pytest.raises(DwwxError) as caught:
        query_odbc(_target("mssql"), password="pw")

    assert caught.value.message == (
        "--odbc needs pyodbc; run: pip install 'dwwx[mssql]', and install "
        "the 'ODBC Driver 18 for SQL Server' ODBC driver"
    )


def test_a_failed_docker_command_shows_command_code_and_stderr():
    exc = DockerException(
        ["docker", "compose", "up"], 17, stdout=b"", stderr=b"no such image\n"
    )

    assert describe_failure(exc) == (
        "`docker compose up` failed with exit code 17: no such image"
    )


def test_the_local_runtime_refuses_odbc(project):
    result = project.dwwx("verify-db", "--odbc")

    assert result.code == 2
    assert "--odbc queries the database server of the docker runtime" in result.err
