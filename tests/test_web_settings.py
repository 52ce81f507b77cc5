"""The web's settings: defaults, and errors that name the bad variable."""

import subprocess
import sys

import pytest

from src_apps.shared.settings import load_settings
from src_apps.web.settings import WebSettings

SECRET = "a-test-secret-that-is-long-enough"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("SECRET_KEY", "SAVE_MODE", "REFERENCE_DATA_SOURCE", "ROOT_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_v1_monolith(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", SECRET)

    settings = load_settings(WebSettings)

    assert settings.save_mode == "sync"
    assert settings.reference_data_source == "db"
    assert settings.reference_data_api_url == "http://127.0.0.1:8023"
    assert settings.reference_data_wait == 60
    assert settings.root_path == ""
    assert settings.publish_timeout == 5


def test_root_path_loses_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("ROOT_PATH", "/app/")

    assert load_settings(WebSettings).root_path == "/app"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "invalid setting SECRET_KEY=<missing>: Field required"),
        (
            {"SECRET_KEY": "too-short"},
            "invalid setting SECRET_KEY=<hidden>: Value error, must be at least 16 "
            "characters",
        ),
        (
            {"SECRET_KEY": SECRET, "SAVE_MODE": "later"},
            "invalid setting SAVE_MODE='later': Input should be 'sync' or 'async'",
        ),
        (
            {"SECRET_KEY": SECRET, "REFERENCE_DATA_SOURCE": "file"},
            "invalid setting REFERENCE_DATA_SOURCE='file': Input should be 'db' or "
            "'api'",
        ),
        (
            {"SECRET_KEY": SECRET, "ROOT_PATH": "app"},
            "invalid setting ROOT_PATH='app': Value error, must be empty or start "
            "with '/', like /app",
        ),
        (
            {"SECRET_KEY": SECRET, "PUBLISH_TIMEOUT": "0"},
            "invalid setting PUBLISH_TIMEOUT='0': Input should be greater than 0",
        ),
    ],
)
def test_bad_setting_is_one_line_naming_the_variable(monkeypatch, capsys, env, line):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as exited:
        load_settings(WebSettings)

    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith(line)


def test_web_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    result = subprocess.run(
        [sys.executable, "-m", "src_apps.web"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr == "invalid setting SECRET_KEY=<missing>: Field required\n"
