"""The web with reference data from the API (v3), and without a database (v4)."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from src_apps.shared import database
from src_apps.shared.messages import STREAM, SUBJECT
from src_apps.web.app import create_app
from tests.prospects import ADA
from tests.services import free_port, wait_for
from tests.test_web_helpers import (
    WebProcess,
    options,
    running,
    sign_up,
    stored_prospects,
    web_settings,
)

QA = ("QA", "Quality Assurance")


def api_database(tmp_path: Path) -> str:
    """Make the API's own database, with a role the web's database lacks."""
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    engine = database.make_engine(url)
    database.prepare_database(engine)
    with engine.begin() as conn:
        conn.execute(insert(database.roles), [{"code": QA[0], "name": QA[1]}])
    engine.dispose()
    return url


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WebProcess]:
    env = {"DATABASE_URL": api_database(tmp_path)}
    with running("src_apps.reference_api", env, tmp_path / "api.log") as api:
        api.wait_until_healthy()
        yield api


def test_form_shows_the_api_choices_and_saves(api, sqlite_url):
    settings = web_settings(
        reference_data_source="api",
        reference_data_api_url=api.url,
        database_url=sqlite_url,
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        roles = options(client.get("/signup").text, "role_code")
        response = sign_up(client, "/signup", {**ADA, "role_code": "DA"})

    assert roles[0] == ("-", "--Not telling")
    assert QA in roles
    assert response.status_code == 303
    assert stored_prospects(sqlite_url)[0]["role_code"] == "DA"


def test_async_with_api_never_touches_the_database(api, nats_server, tmp_path):
    never = tmp_path / "missing-folder" / "never.db"
    settings = web_settings(
        save_mode="async",
        reference_data_source="api",
        reference_data_api_url=api.url,
        nats_url=nats_server.url,
        database_url=f"sqlite:///{never}",
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        wait_for(
            lambda: client.get("/healthz").status_code == 200,
            timeout=15,
            what="queue connection",
        )
        checks = client.get("/healthz").json()["checks"]
        response = sign_up(client, "/signup", {**ADA, "role_code": QA[0]})

    assert checks == {"queue": "ok", "reference_data": "ok"}
    assert response.status_code == 303
    assert not never.parent.exists()
    assert json.loads(last_event(nats_server.url))["prospect"]["role_code"] == "QA"


def last_event(url: str) -> bytes:
    async def read() -> bytes:
        client = await nats.connect(url)
        try:
            message = await client.jetstream().get_last_msg(STREAM, SUBJECT)
            return message.data
        finally:
            await client.close()

    return asyncio.run(read())


def web_env(api_url: str, sqlite_url: str, *, wait: int) -> dict[str, str]:
    return {
        "SECRET_KEY": "x" * 32,
        "DATABASE_URL": sqlite_url,
        "REFERENCE_DATA_SOURCE": "api",
        "REFERENCE_DATA_API_URL": api_url,
        "REFERENCE_DATA_WAIT": str(wait),
    }


def test_web_waits_for_an_api_that_comes_up_late(tmp_path, sqlite_url):
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    env = web_env(api_url, sqlite_url, wait=60)

    with running("src_apps.web", env, tmp_path / "web.log") as web:
        wait_for(
            lambda: f"reference-data API at {api_url} not up yet (" in web.log(),
            timeout=15,
            what="the web to report the API is not up yet",
        )
        assert not web.exited()

        api_env = {"DATABASE_URL": api_database(tmp_path), "PORT": str(api_port)}
        with running("src_apps.reference_api", api_env, tmp_path / "api.log"):
            web.wait_until_healthy(timeout=60)
            html = web_get(web.url + "/signup")

    assert QA[1] in html
    assert "; retrying" in web.log()


def test_web_gives_up_on_an_api_that_never_answers(tmp_path, sqlite_url):
    api_url = f"http://127.0.0.1:{free_port()}"
    env = web_env(api_url, sqlite_url, wait=1)

    with running("src_apps.web", env, tmp_path / "web.log") as web:
        wait_for(web.exited, timeout=30, what="the web to give up")

    assert web.process is not None
    assert web.process.returncode != 0
    assert (
        "cannot start the sign-up web: "
        f"reference-data API at {api_url} did not answer within 1s: ConnectError"
    ) in web.log()


def web_get(url: str) -> str:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.text
