"""Every rendered compose file is one that `docker compose config` accepts."""

from pathlib import Path

import pytest
from python_on_whales import DockerClient

from dwwx import catalogue
from dwwx.manifests import COMPOSE_PROJECT, render_compose
from dwwx.settings import Settings

pytestmark = pytest.mark.docker

SECRETS = {
    "SECRET_KEY": "k",
    "NATS_USER": "dwwx",
    "NATS_PASSWORD": "n",
    "DATABASE_PASSWORD": "p",
    "POSTGRES_PASSWORD": "p",
    "MSSQL_SA_PASSWORD": "Dw1-m",
}


def _config(tmp_path: Path, text: str) -> dict:
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(text)
    env_file = tmp_path / "secrets.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    client = DockerClient(
        compose_files=[compose_file],
        compose_env_files=[env_file],
        compose_project_name=COMPOSE_PROJECT,
    )
    config = client.compose.config(return_json=True)
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("network", ["bridge", "host"])
@pytest.mark.parametrize("db", ["postgres", "mssql"])
@pytest.mark.parametrize("version", catalogue.VERSIONS)
def test_compose_accepts_the_rendered_manifest(tmp_path, version, db, network):
    settings = Settings(
        db=db, docker_network=network, mssql_image="mssql-stand-in:2022"
    )
    text = render_compose(version, settings, {catalogue.HANDLER: 2})

    config = _config(tmp_path, text)

    assert config["name"] == COMPOSE_PROJECT
    assert set(config["services"]) == set(catalogue.SERVICES_BY_VERSION[version])
    db_env = config["services"][catalogue.DB]["environment"]
    password = "MSSQL_SA_PASSWORD" if db == "mssql" else "POSTGRES_PASSWORD"
    assert db_env[password] == SECRETS[password]
    if version == "v4":
        assert config["services"][catalogue.HANDLER]["deploy"]["replicas"] == 2
