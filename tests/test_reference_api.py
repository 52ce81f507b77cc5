"""The reference-data API: roles and countries in display order, and its schema."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from src_apps.reference_api.app import ReferenceApiSettings, create_app
from src_apps.shared.reference import COUNTRIES, ROLES, display_order
from tests.test_web_helpers import running


@pytest.fixture(params=["sqlite", "postgres"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    url = request.getfixturevalue(f"{request.param}_url")
    app = create_app(ReferenceApiSettings(database_url=url))
    with TestClient(app) as client:
        yield client


def as_items(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"code": code, "name": name} for code, name in pairs]


def test_roles_come_in_display_order(client):
    response = client.get("/api/roles")

    assert response.status_code == 200
    assert response.json() == as_items(display_order(ROLES))
    assert response.json()[0] == {"code": "-", "name": "--Not telling"}


def test_countries_come_in_display_order(client):
    response = client.get("/api/countries")

    assert response.status_code == 200
    assert response.json() == as_items(display_order(COUNTRIES))
    assert response.json()[1] == {"code": "BGM", "name": "Belgium"}


def test_health_reports_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_openapi_schema_describes_the_lists(client):
    schema = client.get("/openapi.json").json()

    for path in ("/api/roles", "/api/countries"):
        ok = schema["paths"][path]["get"]["responses"]["200"]
        listed = ok["content"]["application/json"]["schema"]
        assert listed["type"] == "array"
        assert listed["items"] == {"$ref": "#/components/schemas/ReferenceItem"}
    item = schema["components"]["schemas"]["ReferenceItem"]
    assert item["required"] == ["code", "name"]


def test_real_process_serves_the_lists(tmp_path: Path, sqlite_url):
    env = {"DATABASE_URL": sqlite_url}

    with running("src_apps.reference_api", env, tmp_path / "api.log") as api:
        api.wait_until_healthy()
        roles = httpx.get(f"{api.url}/api/roles").json()

    assert [item["code"] for item in roles] == ["-", "AC", "DM", "DA", "EN", "OP"]
