"""Build dwwx's own images: the bundled applications and the reverse proxy."""

import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException
from rich.console import Console

import dwwx
from dwwx.errors import DwwxError
from dwwx.resources import data_dir

logger = logging.getLogger(__name__)

BaseKind = Literal["python", "caddy"]

DOCKER_MISSING = (
    "the docker command is not installed; install Docker "
    "or run the workshop with --runtime local"
)

IMAGES = (
    "signup-web",
    "save-handler",
    "reference-data-api",
    "homepage",
    "reverse-proxy",
)

# The official images each kind of image starts from, unless overridden.
DEFAULT_BASE_IMAGES: dict[BaseKind, str] = {
    "python": "python:3.11-slim",
    "caddy": "caddy:2",
}

BASE_KIND: dict[str, BaseKind] = {
    "signup-web": "python",
    "save-handler": "python",
    "reference-data-api": "python",
    "homepage": "python",
    "reverse-proxy": "caddy",
}

# The src_apps package each Python image runs; the image copies only it and
# the shared code, so a change to one app leaves the others' cache intact.
APP_PACKAGE = {
    "signup-web": "web",
    "save-handler": "save_handler",
    "reference-data-api": "reference_api",
    "homepage": "homepage",
}

# The classic builder names each step's container in its log; the one of a
# failed step is kept, since python-on-whales offers no --force-rm.
_STEP_CONTAINER = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})$", re.MULTILINE)

# The failing step's output ends the build log; this much of it is enough.
FAILURE_TAIL_LINES = 25

# The classic builder colours a step's stderr; a message wants plain text.
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")

# Images built for SQL Server carry pyodbc and FreeTDS, and a tag of their
# own, so that a plain image is never taken for one that can reach it.
MSSQL_TAG_SUFFIX = "-mssql"

_PIP_CA_FILE = "pip-ca.crt"
# pip's config variants, the one that wins first.
_PIP_VARIANTS = (":env:", "site", "user", "global")


def variant_tag(tag: str, *, mssql: bool) -> str:
    """Return the tag of the images built with or without the SQL Server driver."""
    if not mssql or tag.endswith(MSSQL_TAG_SUFFIX):
        return tag
    return tag + MSSQL_TAG_SUFFIX


def image_tags(
    name: str, *, tag: str, registry: str = "dwwx", mssql: bool = False
) -> list[str]:
    """Return the tags one build of an image gets: the given tag and latest."""
    tags = [f"{registry}/{name}:{variant_tag(tag, mssql=mssql)}"]
    latest = variant_tag("latest", mssql=mssql)
    if tags[0] != f"{registry}/{name}:{latest}":
        tags.append(f"{registry}/{name}:{latest}")
    return tags


def image_build_args(
    name: str, *, base: str, mssql: bool, pip_args: Mapping[str, str]
) -> dict[str, str]:
    """Return the build arguments of one image."""
    args = {"BASE_IMAGE": base, **pip_args}
    if BASE_KIND[name] == "python":
        args["WITH_MSSQL"] = "true" if mssql else "false"
    return args


def build_images(
    names: Sequence[str] | None = None,
    *,
    tag: str = dwwx.__version__,
    no_cache: bool = False,
    base_images: Mapping[str, str] | None = None,
    network: str | None = None,
    mssql: bool = False,
    registry: str = "dwwx",
    progress: Console | None = None,
    docker: DockerClient | None = None,
) -> list[str]:
    """Build the named images (all when None) and return the tags they got.

    base_images overrides the base per kind ("python", "caddy"), so tests can
    point the apps and the proxy at different local stand-ins. With mssql the
    app images get the SQL Server driver and every tag the -mssql suffix.
    """
    selected = _check_names(names)
    bases = _resolve_bases(base_images)
    console = progress or Console(stderr=True, highlight=False)
    docker = docker or DockerClient()

    _check_engine(docker)
    use_buildx = _has_buildx(docker)
    logger.debug("building with %s", "buildx" if use_buildx else "the classic builder")

    pip_args, pip_cert = host_pip_settings()
    built: list[str] = []
    for name in selected:
        args = image_build_args(
            name, base=bases[BASE_KIND[name]], mssql=mssql, pip_args=pip_args
        )
        tags = image_tags(name, tag=tag, registry=registry, mssql=mssql)

        started = time.monotonic()
        with (
            console.status(f"building {tags[0]}"),
            build_context(name, pip_cert=pip_cert) as context,
        ):
            _build_one(
                docker,
                name,
                context,
                tags=tags,
                build_args=args,
                no_cache=no_cache,
                network=network,
                use_buildx=use_buildx,
            )
        elapsed = time.monotonic() - started
        console.print(f"[green]✓[/] {', '.join(tags)} built in {elapsed:.1f}s")
        built.extend(tags)
    return built


@contextmanager
def build_context(name: str, *, pip_cert: Path | None = None) -> Iterator[Path]:
    """Assemble an image's build context in a temporary folder and yield it."""
    dockerfiles = data_dir("dockerfiles")
    with tempfile.TemporaryDirectory(prefix=f"dwwx-build-{name}-") as tmp:
        context = Path(tmp)
        shutil.copytree(dockerfiles / name, context, dirs_exist_ok=True)

        if BASE_KIND[name] == "python":
            for requirements in dockerfiles.glob("requirements*.txt"):
                shutil.copy2(requirements, context)
            _copy_apps(context / "src_apps")
        else:
            shutil.copy2(data_dir("manifests") / "Caddyfile", context / "Caddyfile")

        if pip_cert is not None:
            shutil.copy2(pip_cert, context / _PIP_CA_FILE)
        yield context


def host_pip_settings() -> tuple[dict[str, str], Path | None]:
    """Return the build args and CA bundle that let pip in a build reach the index.

    On a machine whose pip needs nothing special, both are empty.
    """
    config = _pip_config()
    build_args: dict[str, str] = {}

    index = _reachable_urls(config.get("index-url", ""))
    if index:
        build_args["PIP_INDEX_URL"] = index[0]
    extra = _reachable_urls(config.get("extra-index-url", ""))
    if extra:
        build_args["PIP_EXTRA_INDEX_URL"] = " ".join(extra)

    cert = config.get("cert")
    pip_cert = Path(cert) if cert and Path(cert).is_file() else None
    return build_args, pip_cert


def _check_names(names: Sequence[str] | None) -> list[str]:
    if names is None or not names:
        return list(IMAGES)
    unknown = [name for name in names if name not in IMAGES]
    if unknown:
        raise DwwxError(
            f"unknown image {unknown[0]!r}; choose from {', '.join(IMAGES)}",
            exit_code=2,
        )
    # Keep the user's order but build each image once.
    return list(dict.fromkeys(names))


def _resolve_bases(overrides: Mapping[str, str] | None) -> dict[BaseKind, str]:
    bases = dict(DEFAULT_BASE_IMAGES)
    for kind, image in (overrides or {}).items():
        if kind not in bases:
            raise DwwxError(
                f"unknown base image kind {kind!r}; "
                f"choose from {', '.join(DEFAULT_BASE_IMAGES)}",
                exit_code=2,
            )
        bases[kind] = image  # type: ignore[index]
    return bases


def _check_engine(docker: DockerClient) -> None:
    try:
        docker.info()
    except ClientNotFoundError:
        raise DwwxError(DOCKER_MISSING) from None
    except DockerException as exc:
        raise DwwxError(
            f"no Docker engine answers ({_last_line(exc)}); "
            "start it or run the workshop with --runtime local"
        ) from None


def _has_buildx(docker: DockerClient) -> bool:
    try:
        docker.buildx.version()
    except DockerException:
        return False
    return True


def _build_one(
    docker: DockerClient,
    name: str,
    context: Path,
    *,
    tags: list[str],
    build_args: dict[str, str],
    no_cache: bool,
    network: str | None,
    use_buildx: bool,
) -> None:
    try:
        if use_buildx:
            docker.buildx.build(
                context,
                tags=tags,
                build_args=build_args,
                cache=not no_cache,
                network=network,
                load=True,
                progress=False,
            )
        else:
            docker.legacy_build(
                context,
                tags=tags,
                build_args=build_args,
                cache=not no_cache,
                network=network,
            )
    except DockerException as exc:
        if not use_buildx:
            _remove_failed_step(docker, exc)
        raise DwwxError(_build_failure(name, exc)) from None


def _remove_failed_step(docker: DockerClient, exc: DockerException) -> None:
    steps = _STEP_CONTAINER.findall(exc.stderr or "")
    if not steps:
        return
    try:
        docker.container.remove(steps[-1], force=True)
    except DockerException:
        logger.debug("could not remove the failed step's container %s", steps[-1])


def _build_failure(name: str, exc: DockerException) -> str:
    # Both builders put the step log on stderr once stdout is not a terminal;
    # its tail holds the failing step and its output.
    output = _ANSI_COLOUR.sub("", exc.stderr or exc.stdout or "").rstrip().splitlines()
    tail = "\n".join(output[-FAILURE_TAIL_LINES:])
    command = " ".join(exc.docker_command)
    return f"building {name} failed: `{command}` exited with {exc.return_code}\n{tail}"


def _last_line(exc: DockerException) -> str:
    lines = (exc.stderr or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {exc.return_code}"


def _copy_apps(destination: Path) -> None:
    # importlib finds src_apps both in a clone and in an installed wheel.
    with as_file(files("src_apps")) as source:
        shutil.copytree(
            source,
            destination,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


def _pip_config() -> dict[str, str]:
    try:
        listing = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        # No pip beside dwwx (a pipx or uv install): nothing to forward.
        return {}

    found: dict[tuple[str, str], str] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        variant, _, option = key.rpartition(".")
        found[variant, option] = value.strip().strip("'\"")

    config: dict[str, str] = {}
    for variant in reversed(_PIP_VARIANTS):
        for (where, option), value in found.items():
            if where == variant:
                config[option] = value
    return config


def _reachable_urls(value: str) -> list[str]:
    # file:// indexes live on the host's disk; URLs with credentials would
    # end up in the image's history, so neither goes into a build.
    urls = []
    for url in value.split():
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and "@" not in parts.netloc:
            urls.append(url)
    return urls
