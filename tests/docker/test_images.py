"""dwwx build: the five images build on the stand-ins, tag, cache and fail clearly."""

import pytest
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from dwwx.errors import DwwxError
from dwwx.images import IMAGES, build_context, build_images, image_tags
from tests.docker.conftest import (
    LAB_REGISTRY,
    TEST_REGISTRY,
    TEST_TAG,
    build_test_images,
    image_name,
)

pytestmark = pytest.mark.docker

APP_IMAGES = [image for image in IMAGES if image != "reverse-proxy"]
ODBC_DRIVERS = ["python", "-c", "import pyodbc; print(pyodbc.drivers())"]


def test_all_five_images_build_with_a_version_tag_and_latest(
    built_tags: list[str], docker: DockerClient
):
    expected = [
        f"{TEST_REGISTRY}/{image}:{tag}"
        for image in IMAGES
        for tag in (TEST_TAG, "latest")
    ]
    assert built_tags == expected
    assert all(docker.image.exists(tag) for tag in built_tags)


def test_a_second_build_without_changes_succeeds_from_the_cache(
    built_tags: list[str], docker: DockerClient
):
    again = build_test_images(docker)

    assert again == built_tags


def test_default_tags_are_the_version_and_latest():
    assert image_tags("homepage", tag="0.1.0") == [
        "dwwx/homepage:0.1.0",
        "dwwx/homepage:latest",
    ]
    assert image_tags("homepage", tag="latest") == ["dwwx/homepage:latest"]


@pytest.mark.parametrize("image", IMAGES)
def test_images_run_as_a_non_root_user_with_a_health_check(
    built_tags: list[str], docker: DockerClient, image: str
):
    config = docker.image.inspect(image_name(image)).config

    assert config.user == "10001:10001"
    assert config.healthcheck is not None
    bind = "PROXY_BIND=0.0.0.0" if image == "reverse-proxy" else "HOST=0.0.0.0"
    assert bind in config.env


def test_the_proxy_image_carries_the_caddyfile(
    built_tags: list[str], docker: DockerClient
):
    output = docker.run(
        image_name("reverse-proxy"),
        ["caddy", "adapt", "--config", "/etc/caddy/Caddyfile"],
        envs={"PROXY_PORT": "8020", "HOMEPAGE_UPSTREAM": "a:1", "WEB_UPSTREAM": "b:2"},
        networks=["host"],
        remove=True,
    )

    assert "proxy-healthz" in str(output)


def test_save_handler_health_check_fails_without_a_fresh_health_file(
    built_tags: list[str], docker: DockerClient
):
    check = ["python", "-m", "src_apps.save_handler.healthcheck"]

    with pytest.raises(DockerException) as failed:
        docker.run(image_name("save-handler"), check, networks=["host"], remove=True)
    assert failed.value.return_code == 1

    touched_then_checked = [
        "sh",
        "-c",
        'touch "$HEALTH_FILE" && exec "$@"',
        "sh",
        *check,
    ]
    output = docker.run(
        image_name("save-handler"), touched_then_checked, networks=["host"], remove=True
    )
    assert "healthy" in str(output)


def test_build_for_sql_server_adds_freetds_under_a_tag_of_its_own(
    project, docker: DockerClient, lab_images
):
    out = project.ok("--db", "mssql", "build", "save-handler", "--tag", TEST_TAG)

    assert "built 2 tags" in out
    image = f"{LAB_REGISTRY}/save-handler:{TEST_TAG}-mssql"
    assert sorted(docker.image.inspect(image).repo_tags) == [
        f"{LAB_REGISTRY}/save-handler:{TEST_TAG}-mssql",
        f"{LAB_REGISTRY}/save-handler:latest-mssql",
    ]
    drivers = docker.run(image, ODBC_DRIVERS, networks=["host"], remove=True)
    assert "'FreeTDS'" in str(drivers)


def test_up_on_sql_server_builds_the_images_it_lacks_for_sql_server(
    project, docker: DockerClient, lab_images, monkeypatch
):
    # No SQL Server image can be had here: a database that exits at once
    # ends the up right after the images are built.
    monkeypatch.setenv("DWWX_MSSQL_IMAGE", "dwwx-ci/debian:bookworm")
    monkeypatch.setenv("DWWX_HEALTH_TIMEOUT", "30")

    result = project.dwwx("--db", "mssql", "up", "v1")

    assert result.code == 1
    assert "signup-db exited with code 0" in result.err
    compose = (project.state_dir / "compose.yaml").read_text()
    image = f"{LAB_REGISTRY}/signup-web:{TEST_TAG}-mssql"
    assert f"image: {image}\n" in compose
    drivers = docker.run(image, ODBC_DRIVERS, networks=["host"], remove=True)
    assert "'FreeTDS'" in str(drivers)


def test_unknown_image_name_is_refused_with_the_valid_names(docker: DockerClient):
    with pytest.raises(DwwxError) as refused:
        build_images(["signup-web", "frontend"], tag=TEST_TAG, docker=docker)

    assert refused.value.message == (
        "unknown image 'frontend'; choose from signup-web, save-handler, "
        "reference-data-api, homepage, reverse-proxy"
    )
    assert refused.value.exit_code == 2


def test_unknown_base_image_kind_is_refused(docker: DockerClient):
    with pytest.raises(DwwxError) as refused:
        build_images(["homepage"], base_images={"node": "node:22"}, docker=docker)

    assert refused.value.message == (
        "unknown base image kind 'node'; choose from python, caddy"
    )


def test_a_failing_step_is_reported_with_its_command_and_output(docker: DockerClient):
    before = {container.id for container in docker.container.list(all=True)}

    # Plain Debian refuses system-wide pip installs (PEP 668): the pip step fails.
    with pytest.raises(DwwxError) as failed:
        build_images(
            ["homepage"],
            tag=TEST_TAG,
            base_images={"python": "dwwx-ci/debian:bookworm"},
            network="host",
            registry=TEST_REGISTRY,
            docker=docker,
        )

    message = failed.value.message
    command, _, output = message.partition("\n")
    assert command.startswith("building homepage failed: `")
    assert "build" in command
    assert "BASE_IMAGE=dwwx-ci/debian:bookworm" in command
    assert "externally-managed-environment" in output
    assert "\x1b[" not in output
    left_behind = [
        container.name
        for container in docker.container.list(all=True)
        if container.id not in before
        and "requirements.txt" in " ".join(container.config.cmd or [])
    ]
    assert left_behind == []


@pytest.mark.parametrize("image", APP_IMAGES)
def test_app_contexts_hold_the_shared_code_without_bytecode(image: str):
    with build_context(image) as context:
        assert (context / "Dockerfile").is_file()
        assert (context / "requirements.txt").is_file()
        assert (context / "src_apps" / "shared" / "__init__.py").is_file()
        assert not list(context.rglob("__pycache__"))


def test_the_proxy_context_holds_the_caddyfile_and_no_apps():
    with build_context("reverse-proxy") as context:
        assert (context / "Caddyfile").is_file()
        assert not (context / "src_apps").exists()
