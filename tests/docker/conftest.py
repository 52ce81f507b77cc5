"""A real Docker engine with the stand-in base images; a skip, or under CI a failure."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import Container, DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException

from dwwx.images import IMAGES, build_images, image_tags
from dwwx.manifests import COMPOSE_PROJECT
from dwwx.runtimes.docker import PROJECT_LABEL
from tests.dwwx_project import Project, free_port_block
from tests.services import need

# Built by .ci/docker-setup.sh; Docker Hub is out of reach on test machines.
STAND_INS = {"python": "dwwx-ci/python:3.11-slim", "caddy": "dwwx-ci/caddy:2"}

# Test builds get their own name prefix so they never replace a user's images.
TEST_REGISTRY = "dwwx-test"
TEST_TAG = "ci"


@pytest.fixture(scope="session")
def docker() -> DockerClient:
    """A client for an engine that answers and holds the stand-in base images."""
    client = DockerClient()
    try:
        client.info()
    except (ClientNotFoundError, DockerException) as exc:
        need("a Docker engine", f"{type(exc).__name__}; run .ci/docker-setup.sh")
    missing = [image for image in STAND_INS.values() if not client.image.exists(image)]
    if missing:
        need(
            "the stand-in base images",
            f"{', '.join(missing)} absent; run .ci/docker-setup.sh",
        )
    return client


@pytest.fixture(autouse=True)
def _engine(docker: DockerClient) -> None:
    """Make every test here need the engine, so none runs half-way."""


def build_test_images(docker: DockerClient) -> list[str]:
    """Build all five images on the stand-ins under the test name; return the tags."""
    return build_images(
        None,
        tag=TEST_TAG,
        no_cache=False,
        base_images=STAND_INS,
        network="host",
        registry=TEST_REGISTRY,
        docker=docker,
    )


@pytest.fixture(scope="session")
def built_tags(docker: DockerClient) -> Iterator[list[str]]:
    """Build all five images once per session on the stand-ins; untag them after."""
    tags = build_test_images(docker)
    try:
        yield tags
    finally:
        # Untagging keeps the layers, so the next session's build is cached.
        present = [tag for tag in tags if docker.image.exists(tag)]
        if present:
            docker.image.remove(present)


def image_name(image: str) -> str:
    """Return the test build's tag for one of dwwx's images."""
    assert image in IMAGES
    return f"{TEST_REGISTRY}/{image}:{TEST_TAG}"


# The settings that run a whole project on the stand-ins, on loopback only.
LAB_REGISTRY = "dwwx-lab"
LAB_SETTINGS = {
    "DWWX_DOCKER_NETWORK": "host",
    "DWWX_BUILD_NETWORK": "host",
    "DWWX_POSTGRES_IMAGE": "dwwx-ci/postgres:16",
    "DWWX_NATS_IMAGE": "dwwx-ci/nats:2.10",
    "DWWX_PYTHON_BASE_IMAGE": STAND_INS["python"],
    "DWWX_CADDY_BASE_IMAGE": STAND_INS["caddy"],
    "DWWX_IMAGE_REGISTRY": LAB_REGISTRY,
    "DWWX_IMAGE_TAG": TEST_TAG,
    "DWWX_HEALTH_TIMEOUT": "120",
}


def project_containers(docker: DockerClient) -> list[Container]:
    """Return every container of the compose project `app`, running or not."""
    filters = [("label", f"{PROJECT_LABEL}={COMPOSE_PROJECT}")]
    return docker.container.list(all=True, filters=filters)


@pytest.fixture
def project(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    docker: DockerClient,
) -> Iterator[Project]:
    """A dwwx project on the docker runtime; brought down with its data after."""
    if project_containers(docker):
        pytest.fail(f"a compose project {COMPOSE_PROJECT!r} already runs here")
    for key, value in LAB_SETTINGS.items():
        monkeypatch.setenv(key, value)
    proj = Project(
        path=tmp_path, port=free_port_block(), capsys=capsys, runtime="docker"
    )
    try:
        yield proj
    finally:
        proj.dwwx("down", "--volumes")


@pytest.fixture(scope="session")
def lab_images(docker: DockerClient) -> Iterator[None]:
    """Untag the images `dwwx build` made for the lab at the end of the session."""
    yield
    tags = [
        tag
        for image in IMAGES
        for mssql in (False, True)
        for tag in image_tags(image, tag=TEST_TAG, registry=LAB_REGISTRY, mssql=mssql)
    ]
    present = [tag for tag in tags if docker.image.exists(tag)]
    if present:
        docker.image.remove(present)
