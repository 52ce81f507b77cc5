"""The docker runtime: a manifest version as a compose project, via python-on-whales."""

import contextlib
import csv
import io
import logging
import shutil
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from python_on_whales import Container, DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException
from rich.console import Console

from dwwx import catalogue, draining, ports
from dwwx.catalogue import Service, Target
from dwwx.errors import DwwxError
from dwwx.images import DOCKER_MISSING, build_images
from dwwx.manifests import (
    COMPOSE_PROJECT,
    POSTGRES_DB,
    POSTGRES_USER,
    docker_target,
    image_name,
    render_compose,
)
from dwwx.runtimes import (
    ProcessStatus,
    QueryResult,
    entry_url,
    print_log_line,
    query_cell,
    running_record,
    service_url,
)
from dwwx.settings import Settings
from dwwx.state import KeptData, Record, StateDir

log = logging.getLogger(__name__)

LOG_TAIL_ON_FAILURE = 20
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
CONFIG_LABEL = "com.docker.compose.project.config_files"

SQLCMD = "/opt/mssql-tools18/bin/sqlcmd"
PROSPECTS_QUERY = "SELECT * FROM Prospects"

# The ODBC drivers each engine can be queried through from the host, best first.
ODBC_DRIVERS = {
    "mssql": (
        "ODBC Driver 18 for SQL Server",
        "ODBC Driver 17 for SQL Server",
        "FreeTDS",
    ),
    "postgres": ("PostgreSQL Unicode",),
}


@contextlib.contextmanager
def docker_errors() -> Iterator[None]:
    """Turn a failed docker command into a DwwxError with command, code, stderr."""
    try:
        yield
    except ClientNotFoundError:
        raise DwwxError(DOCKER_MISSING) from None
    except DockerException as exc:
        raise DwwxError(describe_failure(exc)) from None


def describe_failure(exc: DockerException) -> str:
    """Describe a failed docker command: what ran, its exit code, its stderr."""
    command = " ".join(exc.docker_command)
    output = (exc.stderr or exc.stdout or "").strip()
    return f"`{command}` failed with exit code {exc.return_code}: {output}"


class DockerRuntime:
    """Run a manifest version as the compose project `app` on a Docker engine."""

    name = "docker"

    def __init__(self, settings: Settings, state: StateDir) -> None:
        self.settings = settings
        self.state = state
        self.docker = DockerClient(
            compose_files=[self.compose_file],
            compose_env_files=[state.secrets_file],
            compose_project_name=COMPOSE_PROJECT,
        )

    @property
    def compose_file(self) -> Path:
        return self.state.path / "compose.yaml"

    def _target(self, scale: Mapping[str, int]) -> Target:
        return docker_target(self.settings, scale)

    # ---- up ------------------------------------------------------------------

    def up(self, version: str, *, scale: Mapping[str, int]) -> str:
        """Start or upgrade in place to a version; wait until it is healthy."""
        target = self._target(scale)
        services = catalogue.services(version, target)
        self._check_engine()
        running = self._containers(ours_only=False)
        self._check_project_is_ours(running)
        self._check_ports(services, ours={c.state.pid for c in running})
        previous = self.state.load() if running else None
        if draining.drops_the_handler(previous, services):
            self._drain_the_queue(target)

        self.state.create()
        self.compose_file.write_text(render_compose(version, self.settings, scale))
        self._ensure_images(services, target)

        # Saved before the wait, so logs and down work on a failed start too.
        self.state.save(running_record(self.name, version, self.settings, target))
        self.state.keep_data(KeptData(self.name, target.database_engine))
        self._compose_up()
        return entry_url(version, target)

    def _drain_the_queue(self, target: Target) -> None:
        url = draining.consumers_url(target.ports.queue_monitor)
        draining.drain_queue(
            stop_web=self._stop_web,
            start_web=self._start_web,
            read_report=lambda: self._read_in_queue(url),
            timeout=self.settings.health_timeout,
        )

    def _stop_web(self) -> None:
        with docker_errors():
            self.docker.compose.stop([catalogue.WEB])

    def _start_web(self) -> None:
        with docker_errors():
            self.docker.compose.start([catalogue.WEB])

    def _read_in_queue(self, url: str) -> str | None:
        """Fetch a monitoring URL from inside the queue's container."""
        # The monitoring port is published nowhere, so ask from the inside.
        fetch = ["wget", "-q", "-O", "-", url]
        try:
            return str(self.docker.compose.execute(catalogue.QUEUE, fetch, tty=False))
        except DockerException as exc:
            log.debug("queue monitor unreadable: %s", exc)
            return None

    def _check_engine(self) -> None:
        with docker_errors():
            self.docker.version()

    def _check_project_is_ours(self, containers: list[Container]) -> None:
        # The project name is fixed, so another folder's project would be taken
        # over, and its containers replaced, by this one.
        for container in containers:
            files = container.config.labels.get(CONFIG_LABEL, "")
            if files and files != str(self.compose_file):
                raise DwwxError(
                    f"the compose project {COMPOSE_PROJECT!r} already runs from "
                    f"{files}; run `dwwx down` in that project first"
                )

    def _check_ports(self, services: list[Service], *, ours: set[int]) -> None:
        host_network = self.settings.docker_network == "host"
        for service in services:
            wanted = [service.port] if host_network else []
            if service.published:
                wanted = [self.settings.port]
            if host_network and service.name == catalogue.QUEUE:
                wanted.append(service.health.port)
            if ours and not host_network:
                continue  # the engine's proxy holds the published port
            for port in (p for p in wanted if p is not None):
                ports.require_free(
                    port,
                    needed_by=service.name,
                    entry_port=self.settings.port,
                    ours=ours,
                )

    def _ensure_images(self, services: list[Service], target: Target) -> None:
        """Build those of dwwx's images the version needs and the engine lacks."""
        wanted = [s.image for s in services if s.image]
        with docker_errors():
            missing = [
                image
                for image in wanted
                if not self.docker.image.exists(image_name(self.settings, image))
            ]
        if not missing:
            return
        log.debug("building missing images %s", missing)
        bases = {
            kind: image
            for kind, image in (
                ("python", self.settings.python_base_image),
                ("caddy", self.settings.caddy_base_image),
            )
            if image
        }
        build_images(
            missing,
            tag=self.settings.image_tag,
            base_images=bases,
            network=self.settings.build_network,
            mssql=target.database_engine == "mssql",
            registry=self.settings.image_registry,
            progress=Console(stderr=True, highlight=False),
            docker=self.docker,
        )

    def _compose_up(self) -> None:
        # No force-recreate: compose recreates only the services whose
        # definition changed, which is the workshop's in-place upgrade.
        try:
            self.docker.compose.up(
                detach=True,
                wait=True,
                wait_timeout=int(self.settings.health_timeout),
                remove_orphans=True,
                quiet=True,
            )
        except DockerException as exc:
            failed = self._failed_service()
            if failed is None:
                raise DwwxError(describe_failure(exc)) from None
            service, why = failed
            raise DwwxError(f"{service} {why}" + self._log_tail(service)) from None

    def _failed_service(self) -> tuple[str, str] | None:
        """Name the first service whose container is not up and healthy, and why."""
        for container in self._containers():
            state = container.state
            health = state.health.status if state.health else None
            if state.status == "created":
                continue  # waiting for a dependency, which is the one to name
            if state.status != "running" or state.restarting:
                why = f"exited with code {state.exit_code}"
            elif health == "unhealthy":
                why = "is unhealthy"
            elif health == "starting":
                timeout = self.settings.health_timeout
                why = f"is not healthy after {timeout:.0f} s"
            else:
                continue
            return _service_of(container), why
        return None

    def _log_tail(self, service: str) -> str:
        try:
            lines = self.docker.compose.logs(
                [service], tail=str(LOG_TAIL_ON_FAILURE), no_log_prefix=True
            )
        except DockerException:
            return ""
        assert isinstance(lines, str)
        shown = "\n".join(f"  {line}" for line in lines.rstrip().splitlines())
        return f"; last lines of its log:\n{shown}" if shown else ""

    # ---- down, ps, logs, verify-db ------------------------------------------------

    def down(self, *, volumes: bool) -> bool:
        """Remove every container of the project; with volumes, delete the data."""
        self.state.check()
        if volumes:
            # Data an earlier run on the local runtime left in the state folder.
            shutil.rmtree(self.state.data, ignore_errors=True)
        if not self.compose_file.exists():
            return False
        ran = bool(self._containers())
        with docker_errors():
            self.docker.compose.down(remove_orphans=True, volumes=volumes, quiet=True)
            if volumes:
                # A volume of a service a downgrade dropped is no longer in the
                # file, so compose would leave it behind.
                self._remove_project_volumes()
        if self.state.load() is not None:
            self.state.save(None)
        if volumes:
            self.state.keep_data(None)
        return ran

    def _remove_project_volumes(self) -> None:
        filters = [("label", f"{PROJECT_LABEL}={COMPOSE_PROJECT}")]
        left = self.docker.volume.list(filters=filters)
        if left:
            self.docker.volume.remove(left)

    def record(self) -> Record:
        """Return what runs, or raise saying how to start it."""
        record = self.state.load()
        if record is None or not self._containers():
            raise DwwxError(
                f"nothing is running from {self.state.path}; start it with: dwwx up v4"
            )
        return record

    def _containers(self, *, ours_only: bool = True) -> list[Container]:
        """Return the project's containers, in catalogue then copy order."""
        filters = [("label", f"{PROJECT_LABEL}={COMPOSE_PROJECT}")]
        with docker_errors():
            found = self.docker.container.list(all=True, filters=filters)
        if ours_only:
            found = [
                c
                for c in found
                if c.config.labels.get(CONFIG_LABEL) == str(self.compose_file)
            ]
        return sorted(found, key=_catalogue_order)

    def status(self) -> list[ProcessStatus]:
        """List every container of the project with its state and URL."""
        record = self.record()
        target = self._target(record.scale)
        services = {s.name: s for s in catalogue.services(record.version, target)}
        now = datetime.now(UTC)
        rows = []
        for container in self._containers():
            service = _service_of(container)
            state = container.state
            running = state.status == "running"
            rows.append(
                ProcessStatus(
                    service=service,
                    name=container.name,
                    state=container_state(state),
                    pid=state.pid if running else None,
                    uptime_seconds=(
                        (now - state.started_at).total_seconds()
                        if running and state.started_at
                        else None
                    ),
                    url=self._url(services.get(service), record.version, target),
                )
            )
        return rows

    def _url(self, service: Service | None, version: str, target: Target) -> str | None:
        if service is None:
            return None
        # On the bridge network only the entry port is published to the host.
        if self.settings.docker_network != "host" and service.name not in (
            catalogue.WEB,
            catalogue.PROXY,
        ):
            return None
        return service_url(service, version, target)

    def logs(
        self, services: list[str], *, follow: bool, tail: int | None, console: Console
    ) -> None:
        """Print each container's log, prefixed with its name, then follow them."""
        record = self.record()
        live = catalogue.SERVICES_BY_VERSION[record.version]
        for service in services:
            if service not in live:
                raise DwwxError(
                    f"{service} is not part of the running {record.version}"
                )
        names = [c.name for c in self._containers() if _service_of(c) in services]
        width = max((len(_short_name(name)) for name in names), default=0)
        with docker_errors():
            stream = self.docker.compose.logs(
                services,
                tail=None if tail is None else str(tail),
                follow=follow,
                stream=True,
            )
            for _source, raw in stream:
                for line in raw.decode(errors="replace").splitlines():
                    prefix, sep, text = line.partition(" | ")
                    if not sep:
                        prefix, text = "", line
                    print_log_line(console, prefix.strip(), width, text)

    def query_prospects(self, *, odbc: bool = False) -> QueryResult:
        """Run SELECT * FROM Prospects in the database container, or over ODBC."""
        record = self.record()
        target = self._target(record.scale)
        if odbc:
            return self._query_odbc(target)
        argv = prospects_query_argv(target, host_network=self._host_network)
        with docker_errors():
            output = self.docker.compose.execute(catalogue.DB, argv, tty=False)
        assert isinstance(output, str)
        if target.database_engine == "mssql":
            return parse_sqlcmd(output)
        return parse_csv(output)

    @property
    def _host_network(self) -> bool:
        return self.settings.docker_network == "host"

    def _query_odbc(self, target: Target) -> QueryResult:
        if not self._host_network:
            raise DwwxError(
                "--odbc connects from the host, but on the bridge network the "
                "database port is not published; set DWWX_DOCKER_NETWORK=host "
                "or drop --odbc"
            )
        secrets = self.state.secrets()
        password_key = (
            "MSSQL_SA_PASSWORD"
            if target.database_engine == "mssql"
            else "DATABASE_PASSWORD"
        )
        return query_odbc(target, password=secrets.get(password_key, ""))


def container_state(state: Any) -> str:
    """Name a container's state as `dwwx ps` shows it, health first."""
    if state.status != "running":
        return "RESTARTING" if state.restarting else str(state.status).upper()
    health = state.health.status if state.health else None
    return {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY", "starting": "STARTING"}.get(
        health or "", "RUNNING"
    )


def prospects_query_argv(target: Target, *, host_network: bool) -> list[str]:
    """Build the command that runs the workshop's query with the engine's client."""
    if target.database_engine == "mssql":
        port = target.ports.database if host_network else 1433
        # The shell inside the container expands the password, so it never
        # appears on the host's command line.
        sqlcmd = (
            f'{SQLCMD} -C -S 127.0.0.1,{port} -U sa -P "$MSSQL_SA_PASSWORD" '
            f'-d master -Q "SET NOCOUNT ON; {PROSPECTS_QUERY}" -s "," -W'
        )
        return ["/bin/sh", "-c", sqlcmd]
    port = target.ports.database if host_network else 5432
    return [
        "psql",
        "-p",
        str(port),
        "-U",
        POSTGRES_USER,
        "-d",
        POSTGRES_DB,
        "--csv",
        "-c",
        PROSPECTS_QUERY,
    ]


def parse_csv(output: str) -> QueryResult:
    """Parse psql's --csv output: a header line, then one line per row."""
    rows = list(csv.reader(io.StringIO(output)))
    if not rows:
        return QueryResult(columns=[], rows=[])
    return QueryResult(columns=rows[0], rows=[tuple(row) for row in rows[1:]])


def parse_sqlcmd(output: str) -> QueryResult:
    """Parse sqlcmd's -s "," -W output: header, a line of dashes, the rows."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return QueryResult(columns=[], rows=[])
    body = [line for line in lines[1:] if set(line) - {"-", ","}]
    parsed = list(csv.reader([lines[0], *body]))
    rows = [tuple("" if cell == "NULL" else cell for cell in row) for row in parsed[1:]]
    return QueryResult(columns=parsed[0], rows=rows)


def odbc_connection_string(target: Target, *, driver: str, password: str) -> str:
    """Build the ODBC connection string that reaches the database from the host."""
    port = target.ports.database
    if target.database_engine != "mssql":
        where = f"SERVER=127.0.0.1;PORT={port};DATABASE={POSTGRES_DB}"
        user = POSTGRES_USER
    elif driver == "FreeTDS":
        where = f"SERVER=127.0.0.1;PORT={port};DATABASE=master;TDS_Version=7.4"
        user = "sa"
    else:
        where = f"SERVER=127.0.0.1,{port};DATABASE=master;TrustServerCertificate=yes"
        user = "sa"
    # Braces quote the password, so a ; or = in it cannot end the value.
    return f"DRIVER={{{driver}}};{where};UID={user};PWD={{{password}}}"


def choose_odbc_driver(engine: str, installed: Iterable[str]) -> str | None:
    """Return the ODBC driver --odbc uses for an engine, the best one installed."""
    present = set(installed)
    return next(
        (name for name in ODBC_DRIVERS.get(engine, ()) if name in present), None
    )


def query_odbc(target: Target, *, password: str) -> QueryResult:
    """Run the workshop's query through pyodbc, naming what is missing if anything."""
    wanted = ODBC_DRIVERS[target.database_engine]
    try:
        import pyodbc  # type: ignore[import-not-found]
    except ImportError:
        raise DwwxError(
            "--odbc needs pyodbc; run: pip install 'dwwx[mssql]', and install "
            f"the {wanted[0]!r} ODBC driver"
        ) from None
    installed = pyodbc.drivers()
    driver = choose_odbc_driver(target.database_engine, installed)
    if driver is None:
        raise DwwxError(
            f"the ODBC driver {wanted[0]!r} is not installed (found: "
            f"{', '.join(installed) or 'none'}); install it, or drop --odbc"
        )
    connection = odbc_connection_string(target, driver=driver, password=password)
    try:
        with pyodbc.connect(connection, timeout=10) as conn:
            cursor = conn.execute(PROSPECTS_QUERY)
            columns = [column[0] for column in cursor.description]
            rows = [tuple(query_cell(v) for v in row) for row in cursor.fetchall()]
    except pyodbc.Error as exc:
        raise DwwxError(f"the ODBC query failed: {exc}") from None
    return QueryResult(columns=columns, rows=rows)


def _service_of(container: Container) -> str:
    return container.config.labels.get(SERVICE_LABEL, container.name)


def _catalogue_order(container: Container) -> tuple[int, int]:
    names = catalogue.SERVICES_BY_VERSION["v4"]
    service = _service_of(container)
    position = names.index(service) if service in names else len(names)
    number = container.config.labels.get(NUMBER_LABEL, "0")
    return position, int(number) if number.isdigit() else 0


def _short_name(container_name: str) -> str:
    return container_name.removeprefix(f"{COMPOSE_PROJECT}-")
