"""Image names and build arguments: SQL Server builds never pass for plain ones."""

import pytest
import yaml

from dwwx.images import IMAGES, image_build_args, image_tags, variant_tag
from dwwx.manifests import image_name, render_compose
from dwwx.settings import Settings


def _settings(db: str, tag: str = "latest") -> Settings:
    """Settings for the docker runtime, immune to DWWX_* variables of the caller."""
    return Settings(
        db=db,
        image_tag=tag,
        image_registry="dwwx",
        docker_network="bridge",
        mssql_image="example/mssql:2022",
    )


@pytest.mark.parametrize(
    ("tag", "mssql", "expected"),
    [
        ("0.1.0", False, ["dwwx/save-handler:0.1.0", "dwwx/save-handler:latest"]),
        (
            "0.1.0",
            True,
            ["dwwx/save-handler:0.1.0-mssql", "dwwx/save-handler:latest-mssql"],
        ),
        ("latest", False, ["dwwx/save-handler:latest"]),
        ("latest", True, ["dwwx/save-handler:latest-mssql"]),
        ("latest-mssql", True, ["dwwx/save-handler:latest-mssql"]),
    ],
)
def test_sql_server_builds_get_tags_of_their_own(tag, mssql, expected):
    assert image_tags("save-handler", tag=tag, mssql=mssql) == expected


def test_the_sql_server_suffix_is_added_once():
    once = variant_tag("ci", mssql=True)

    assert once == "ci-mssql"
    assert variant_tag(once, mssql=True) == once
    assert variant_tag("ci", mssql=False) == "ci"


@pytest.mark.parametrize("mssql", [False, True])
@pytest.mark.parametrize("image", [i for i in IMAGES if i != "reverse-proxy"])
def test_app_images_are_told_whether_to_add_the_driver(image, mssql):
    args = image_build_args(image, base="py:3.11", mssql=mssql, pip_args={})

    assert args == {"BASE_IMAGE": "py:3.11", "WITH_MSSQL": str(mssql).lower()}


def test_the_proxy_build_gets_no_driver_switch():
    args = image_build_args(
        "reverse-proxy", base="caddy:2", mssql=True, pip_args={"PIP_INDEX_URL": "u"}
    )

    assert args == {"BASE_IMAGE": "caddy:2", "PIP_INDEX_URL": "u"}


@pytest.mark.parametrize(
    ("db", "tag", "expected"),
    [
        ("postgres", "latest", "latest"),
        ("mssql", "latest", "latest-mssql"),
        ("mssql", "ci", "ci-mssql"),
        ("mssql", "ci-mssql", "ci-mssql"),
    ],
)
def test_the_images_of_a_project_follow_its_engine(db, tag, expected):
    assert image_name(_settings(db, tag), "save-handler") == (
        f"dwwx/save-handler:{expected}"
    )


def test_the_compose_file_of_a_sql_server_project_names_its_images():
    compose = yaml.safe_load(render_compose("v4", _settings("mssql"), {}))

    images = {
        name: service["image"]
        for name, service in compose["services"].items()
        if service["image"].startswith("dwwx/")
    }
    assert images == {
        "signup-web": "dwwx/signup-web:latest-mssql",
        "homepage": "dwwx/homepage:latest-mssql",
        "proxy": "dwwx/reverse-proxy:latest-mssql",
        "reference-data-api": "dwwx/reference-data-api:latest-mssql",
        "signup-save-handler": "dwwx/save-handler:latest-mssql",
    }
