"""The runtimes that run a manifest: Docker compose, or local processes."""

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from sqlalchemy import make_url

from dwwx import catalogue
from dwwx.catalogue import Service, Target
from dwwx.errors import DwwxError
from dwwx.settings import Settings
from dwwx.state import Record, StateDir


@dataclass(frozen=True)
class ProcessStatus:
    """One running copy of a service, as `dwwx ps` shows it."""

    service: str
    name: str
    state: str
    pid: int | None
    uptime_seconds: float | None
    url: str | None


@dataclass(frozen=True)
class QueryResult:
    """Rows of a query, with their column names."""

    columns: list[str]
    rows: list[tuple[str, ...]]


class Runtime(Protocol):
    """What every runtime does; the CLI needs to know no more."""

    name: str

    def record(self) -> Record:
        """Return what runs here, or raise saying how to start it."""
        ...

    def up(self, version: str, *, scale: Mapping[str, int]) -> str:
        """Bring a version up (or upgrade in place); return the entry URL."""
        ...

    def down(self, *, volumes: bool) -> bool:
        """Stop everything; with volumes, delete the data. False: nothing ran."""
        ...

    def status(self) -> list[ProcessStatus]:
        """Return every process or container of the running version."""
        ...

    def logs(
        self, services: list[str], *, follow: bool, tail: int | None, console: Console
    ) -> None:
        """Print the logs of services, one prefix per copy."""
        ...

    def query_prospects(self, *, odbc: bool = False) -> QueryResult:
        """Run the workshop's `SELECT * FROM Prospects`; odbc: from the host."""
        ...


def entry_url(version: str, target: Target) -> str:
    """Return the URL an attendee opens: the web in v1, the homepage after."""
    return f"http://localhost:{target.ports.entry}/"


def service_url(service: Service, version: str, target: Target) -> str | None:
    """Return where a service can be reached from the host, if anywhere."""
    ports_ = target.ports
    if service.name == catalogue.WEB:
        if version == "v1":
            return f"http://localhost:{ports_.entry}/"
        return f"http://localhost:{ports_.entry}/app/"
    if service.name == catalogue.PROXY:
        return f"http://localhost:{ports_.entry}/"
    if service.name == catalogue.HOMEPAGE:
        return f"http://127.0.0.1:{ports_.homepage}/"
    if service.name == catalogue.API:
        return f"http://127.0.0.1:{ports_.api}/api/countries"
    if service.name == catalogue.QUEUE:
        return f"nats://127.0.0.1:{ports_.queue}"
    if service.name == catalogue.DB and target.database_engine == "postgres":
        url = make_url(target.database_url)
        return f"postgresql://{url.username}@{url.host}:{url.port}/{url.database}"
    return None


def docker_engine_answers(timeout: float = 5.0) -> bool:
    """Return True when a Docker client is installed and its engine answers."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def choose_runtime_name(settings: Settings, state: StateDir) -> str:
    """Pick the runtime: the one already running here, else the setting."""
    record = state.load()
    if record is not None:
        if settings.runtime not in ("auto", record.runtime):
            raise DwwxError(
                f"{record.version} is running on the {record.runtime} runtime from "
                f"{state.path}; run `dwwx down` before switching to {settings.runtime}"
            )
        return record.runtime
    if settings.runtime != "auto":
        return settings.runtime
    return "docker" if docker_engine_answers() else "local"


def with_project_engine(settings: Settings, state: StateDir, runtime: str) -> Settings:
    """Use the engine the project runs on, or keeps its data in after a down."""
    record = state.load()
    if record is not None:
        if settings.db is None:
            return settings.model_copy(update={"db": record.database_engine})
        if settings.db != record.database_engine:
            raise DwwxError(
                f"{record.version} runs on {record.database_engine} here; run "
                f"`dwwx down` before switching to {settings.db}, or drop --db",
                exit_code=2,
            )
        return settings
    kept = state.kept_data()
    asked = settings.db is not None or settings.database_url is not None
    if kept is None or asked or kept.runtime != runtime:
        return settings
    return settings.model_copy(update={"db": kept.database_engine})


def open_runtime(settings: Settings, state: StateDir) -> Runtime:
    """Return the runtime that serves this project."""
    name = choose_runtime_name(settings, state)
    settings = with_project_engine(settings, state, name)
    if name == "docker":
        from dwwx.runtimes.docker import DockerRuntime

        return DockerRuntime(settings, state)
    from dwwx.runtimes.local import LocalRuntime

    return LocalRuntime(settings, state)


def running_record(
    runtime: str, version: str, settings: Settings, target: Target
) -> Record:
    """Describe what `up` brings up, for the state folder to remember."""
    return Record(
        runtime=runtime,
        version=version,
        port=settings.port,
        database_engine=target.database_engine,
        scale={catalogue.HANDLER: target.scale.get(catalogue.HANDLER, 1)},
    )


def print_log_line(console: Console, prefix: str, width: int, line: str) -> None:
    """Print one log line after its copy's name, the line itself unstyled."""
    console.print(f"[cyan]{prefix.ljust(width)}[/] | ", end="", highlight=False)
    console.out(line, highlight=False)


def query_cell(value: object) -> str:
    """Show a query result's value as text, NULL as empty."""
    return "" if value is None else str(value)
