"""The homepage: the launch page, its call to sign up, and its packaged assets."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from src_apps.homepage.app import HomepageSettings, create_app
from src_apps.shared.settings import load_settings
from tests.test_web_helpers import running


def test_landing_page_links_to_the_sign_up():
    client = TestClient(create_app(HomepageSettings()))

    response = client.get("/")

    assert response.status_code == 200
    assert '<a class="cta" href="/app/">Sign up for early access</a>' in response.text


def test_sign_up_url_comes_from_the_setting_and_is_escaped(monkeypatch):
    monkeypatch.setenv("SIGNUP_URL", 'http://127.0.0.1:8020/app/?a=1&b="2"')
    client = TestClient(create_app(HomepageSettings()))

    html = client.get("/").text

    assert 'href="http://127.0.0.1:8020/app/?a=1&amp;b=&#34;2&#34;"' in html


def test_stylesheet_is_served():
    client = TestClient(create_app(HomepageSettings()))

    html = client.get("/").text
    response = client.get("/static/homepage.css")

    assert 'href="/static/homepage.css"' in html
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


def test_health_answers():
    client = TestClient(create_app(HomepageSettings()))

    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}


def test_bad_port_names_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "http")

    with pytest.raises(SystemExit):
        load_settings(HomepageSettings)

    assert capsys.readouterr().err.startswith("invalid setting PORT='http'")


def test_page_is_served_from_an_installed_wheel(tmp_path: Path, installed_wheel: Path):
    """Run the homepage from an unpacked wheel, in a folder far from the checkout."""
    site = installed_wheel
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "SIGNUP_URL": "/app/"}
    where = subprocess.run(
        [sys.executable, "-c", "import src_apps.homepage as m; print(m.__file__)"],
        cwd=elsewhere,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))

    log_path = tmp_path / "homepage.log"
    with running("src_apps.homepage", env, log_path, cwd=elsewhere) as homepage:
        homepage.wait_until_healthy()
        page = httpx.get(homepage.url + "/")
        css = httpx.get(homepage.url + "/static/homepage.css")

    assert page.status_code == 200
    assert 'href="/app/"' in page.text
    assert css.status_code == 200
