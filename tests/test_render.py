"""`dwwx render`: the compose file and the supervisord config of each version."""

import configparser
import os

import pytest
import yaml

from dwwx.state import StateDir


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4"])
def test_compose_file_follows_the_specification(project, version):
    compose = yaml.safe_load(project.ok("render", version))

    assert "version" not in compose
    assert compose["name"] == "app"
    published = [name for name, s in compose["services"].items() if "ports" in s]
    assert published == (["signup-web"] if version == "v1" else ["proxy"])


def test_compose_v4_wires_the_queue_and_the_handler(project):
    compose = yaml.safe_load(project.ok("render", "v4", "--scale", "save-handler=3"))
    services = compose["services"]

    handler = services["signup-save-handler"]
    assert handler["image"] == "dwwx/save-handler:latest"
    assert handler["deploy"]["replicas"] == 3
    assert handler["depends_on"]["message-queue"] == {"condition": "service_healthy"}
    assert services["signup-web"]["environment"]["SAVE_MODE"] == "async"
    assert sorted(compose["volumes"]) == ["message-queue-data", "signup-db-data"]


def test_compose_file_holds_no_secret(project):
    StateDir(project.state_dir).create()
    text = project.ok("render", "v4")

    assert "${NATS_PASSWORD}" in text
    assert "${SECRET_KEY}" in text
    secrets = StateDir(project.state_dir).secrets()
    generated = [value for value in secrets.values() if len(value) > 16]
    assert len(generated) == 5
    assert not [value for value in generated if value in text]


def test_local_config_is_a_supervisord_config(project):
    text = project.ok("render", "v4", "--runtime", "local", "--scale", "handler=2")
    config = configparser.RawConfigParser()
    config.read_string(text)

    programs = [s for s in config.sections() if s.startswith("program:")]
    assert programs == [
        "program:signup-web",
        "program:homepage",
        "program:proxy",
        "program:reference-data-api",
        "program:message-queue",
        "program:signup-save-handler-1",
        "program:signup-save-handler-2",
    ]
    copy = config["program:signup-save-handler-2"]
    assert 'HANDLER_NAME="signup-save-handler-2"' in copy["environment"]
    assert "SECRET_KEY" not in config["program:signup-web"]["environment"]
    assert (
        " SECRET_KEY,NATS_USER,NATS_PASSWORD -- "
        in config["program:signup-web"]["command"]
    )


def test_render_refuses_an_unknown_version(project):
    result = project.dwwx("render", "v9")

    assert result.code == 2
    assert (
        result.err
        == "dwwx: unknown manifest version 'v9'; choose one of v1, v2, v3, v4\n"
    )


def test_generated_queue_password_reads_as_a_string_in_the_nats_config(tmp_path):
    for number in range(50):
        state = StateDir(tmp_path / str(number))
        state.create()
        password = state.secrets()["NATS_PASSWORD"]
        assert password[0].isalpha()
        assert password.isalnum()


def test_local_postgres_is_a_program_stopped_fast_on_loopback(project):
    text = project.ok("--db", "postgres", "render", "v4", "--runtime", "local")
    config = configparser.RawConfigParser()
    config.read_string(text)

    database = config["program:signup-db"]
    assert "listen_addresses=127.0.0.1" in database["command"]
    assert f" -p {project.port + 6} " in database["command"]
    assert database["stopsignal"] == "INT"
    assert ("user" in database) == (os.geteuid() == 0)
    web = config["program:signup-web"]
    assert (
        f"postgresql+psycopg://dwwx@127.0.0.1:{project.port + 6}/signup"
        in (web["environment"])
    )
    assert ",DATABASE_PASSWORD," in web["command"]
    # The password is read from the secrets file at start, never written here.
    assert "DATABASE_PASSWORD=" not in text
