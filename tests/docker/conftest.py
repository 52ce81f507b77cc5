"""A real Docker engine with the stand-in base images; a skip, or under CI a failure."""

from collections.abc import Iterator

import pytest
from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException

from dwwx.images import IMAGES, build_images
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


@pytest.fixture(scope="session")
def built_tags(docker: DockerClient) -> Iterator[list[str]]:
    """Build all five images once per session on the stand-ins; untag them after."""
    tags = build_images(
        None,
        tag=TEST_TAG,
        no_cache=False,
        base_images=STAND_INS,
        network="host",
        registry=TEST_REGISTRY,
        docker=docker,
    )
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
