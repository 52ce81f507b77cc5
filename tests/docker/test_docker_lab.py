"""The workshop's lab on a real engine: build, v1, v3, v4 in place, scale, v3, down."""

import re
from dataclasses import replace

import pytest
from python_on_whales import DockerClient

from tests.docker.conftest import TEST_TAG, project_containers
from tests.services import need, wait_for

pytestmark = pytest.mark.docker


V3_NEW = ("app-homepage-1", "app-proxy-1", "app-reference-data-api-1")
V4_NEW = ("app-message-queue-1", "app-signup-save-handler-1")
V3_TO_V4_UNCHANGED = ("app-signup-db-1", *V3_NEW)


def _ids(docker: DockerClient) -> dict[str, str]:
    return {c.name: c.id for c in project_containers(docker)}


def _row_count(project) -> int:
    match = re.search(r"Prospects — (\d+) rows", project.ok("verify-db"))
    assert match
    return int(match.group(1))


def _need_postgres_odbc() -> None:
    try:
        import pyodbc
    except ImportError:
        need("pyodbc", "install the test extra: pip install -e '.[test]'")
    if "PostgreSQL Unicode" not in pyodbc.drivers():
        need("the PostgreSQL ODBC driver", "install Debian's odbc-postgresql")


def test_lab_from_build_to_down(project, docker, lab_images, monkeypatch):
    """One project through the whole lab, since every `up` costs seconds."""
    _need_postgres_odbc()
    assert "built 10 tags" in project.ok("build", "--tag", TEST_TAG)
    assert "built 2 tags" in project.ok("build", "save-handler", "--tag", TEST_TAG)

    out = project.ok("up", "v1")
    assert f"v1 is up on the docker runtime: http://localhost:{project.port}/" in out
    assert "v1 on the docker runtime" in project.ok("ps")
    assert set(_ids(docker)) == {"app-signup-db-1", "app-signup-web-1"}
    project.ok("signup", "--email", "v1@example.com")
    assert "found v1@example.com" in project.ok(
        "verify-db", "--email", "v1@example.com"
    )
    v1 = _ids(docker)
    other = replace(project, path=project.path / "other")
    refused = other.dwwx("up", "v1")
    assert refused.code == 1
    assert f"already runs from {project.state_dir / 'compose.yaml'}" in refused.err

    project.ok("up", "v3")
    v3 = _ids(docker)
    # The database keeps running through the upgrade; the web moves behind
    # the proxy, so it is recreated.
    assert v3["app-signup-db-1"] == v1["app-signup-db-1"]
    assert v3["app-signup-web-1"] != v1["app-signup-web-1"]
    assert set(v3) == {*v1, *V3_NEW}

    project.ok("up", "v4")
    v4 = _ids(docker)
    # `dwwx render` shows that v4 changes only the web's definition.
    assert {name: v4[name] for name in V3_TO_V4_UNCHANGED} == {
        name: v3[name] for name in V3_TO_V4_UNCHANGED
    }
    assert v4["app-signup-web-1"] != v3["app-signup-web-1"]
    assert set(v4) == {*v3, *V4_NEW}
    monkeypatch.setenv("COLUMNS", "240")
    doctor = project.ok("doctor")
    assert "held by this project's v4 (docker runtime)" in doctor
    assert "is taken by" not in doctor

    project.ok("signup", "--email", "v4@example.com")
    wait_for(
        lambda: project.dwwx("verify-db", "--email", "v4@example.com").code == 0,
        timeout=30,
        what="the v4 sign-up to be saved by the handler",
    )
    handler_log = project.ok("logs", "handler")
    assert re.search(r"^signup-save-handler-1 +\| .*Prospect saved", handler_log, re.M)
    assert _row_count(project) == 2
    # The same table from the host, through pyodbc and the PostgreSQL driver.
    odbc = project.ok("verify-db", "--odbc", "--email", "v4@example.com")
    assert "SELECT * FROM Prospects — 2 rows" in odbc
    assert "found v4@example.com" in odbc

    assert "signup-save-handler runs 2 copies" in project.ok("scale", "save-handler=2")
    scaled = _ids(docker)
    handlers = sorted(name for name in scaled if "save-handler" in name)
    assert handlers == ["app-signup-save-handler-1", "app-signup-save-handler-2"]
    assert scaled["app-signup-save-handler-1"] == v4["app-signup-save-handler-1"]
    ps = project.ok("ps")
    assert ps.count("HEALTHY") == len(scaled)
    # Host networking gives both copies the host's name; each still has its own.
    names = re.findall(
        r"^signup-save-handler-\d +\| .*\[(\S+)\] .*Listening on subject",
        project.ok("logs", "handler"),
        re.M,
    )
    assert len(set(names)) == 2, names

    assert "accepted 10 of 10" in project.ok("signup", "--count", "10")
    project.ok("up", "v3")
    # The downgrade waited for the handlers: no sign-up stayed in the queue.
    assert _row_count(project) == 12
    names = set(_ids(docker))
    assert "app-message-queue-1" not in names
    assert not [name for name in names if "save-handler" in name]
    project.ok("signup", "--email", "sync@example.com")
    assert "found sync@example.com" in project.ok(
        "verify-db", "--email", "sync@example.com"
    )

    assert "stopped; data deleted" in project.ok("down", "--volumes")
    assert project_containers(docker) == []
    label = [("label", "com.docker.compose.project=app")]
    assert docker.volume.list(filters=label) == []
    assert docker.network.list(filters=label) == []
    result = project.dwwx("ps")
    assert result.code == 1
    assert "nothing is running from" in result.err
