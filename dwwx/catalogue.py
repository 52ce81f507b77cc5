"""The workshop's services, described once for every runtime and version."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dwwx.errors import DwwxError
from dwwx.localdb import LocalPostgres

VERSIONS = ("v1", "v2", "v3", "v4")

DB = "signup-db"
WEB = "signup-web"
HOMEPAGE = "homepage"
PROXY = "proxy"
API = "reference-data-api"
QUEUE = "message-queue"
HANDLER = "signup-save-handler"

SERVICES_BY_VERSION: dict[str, tuple[str, ...]] = {
    "v1": (DB, WEB),
    "v2": (DB, WEB, HOMEPAGE, PROXY),
    "v3": (DB, WEB, HOMEPAGE, PROXY, API),
    "v4": (DB, WEB, HOMEPAGE, PROXY, API, QUEUE, HANDLER),
}

SHORT_NAMES: dict[str, str] = {
    "db": DB,
    "web": WEB,
    "homepage": HOMEPAGE,
    "proxy": PROXY,
    "api": API,
    "mq": QUEUE,
    "handler": HANDLER,
}

# The image each of dwwx's own services is built into (dwwx build NAME).
IMAGE_OF: dict[str, str] = {
    WEB: "signup-web",
    HOMEPAGE: "homepage",
    PROXY: "reverse-proxy",
    API: "reference-data-api",
    HANDLER: "save-handler",
}

SCALABLE = (HANDLER,)

HealthKind = Literal["http", "heartbeat", "database"]


@dataclass(frozen=True)
class Ports:
    """Every port follows the entry port, so one setting moves them all."""

    entry: int = 8020

    @property
    def web(self) -> int:
        return self.entry + 1

    @property
    def homepage(self) -> int:
        return self.entry + 2

    @property
    def api(self) -> int:
        return self.entry + 3

    @property
    def queue(self) -> int:
        return self.entry + 4

    @property
    def queue_monitor(self) -> int:
        return self.entry + 5

    @property
    def database(self) -> int:
        return self.entry + 6


@dataclass(frozen=True)
class Health:
    """How to tell that a service is ready."""

    kind: HealthKind
    port: int | None = None
    path: str = "/healthz"

    def url(self, host: str = "127.0.0.1") -> str | None:
        if self.kind != "http" or self.port is None:
            return None
        return f"http://{host}:{self.port}{self.path}"


@dataclass(frozen=True)
class Service:
    """One service of a manifest version, independent of the runtime."""

    name: str
    port: int | None
    health: Health
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    module: str | None = None
    replicas: int = 1
    published: bool = False

    @property
    def image(self) -> str | None:
        return IMAGE_OF.get(self.name)


@dataclass(frozen=True)
class Target:
    """Where the services run, as the catalogue needs to know it."""

    ports: Ports
    database_url: str
    database_engine: str
    service_host: Literal["loopback", "service-name"] = "loopback"
    bind_host: str = "127.0.0.1"
    state_dir: Path = Path(".dwwx")
    scale: Mapping[str, int] = field(default_factory=dict)
    # The local runtime's own PostgreSQL, when it runs one (--db postgres).
    local_postgres: LocalPostgres | None = None

    def host_of(self, service: str) -> str:
        return "127.0.0.1" if self.service_host == "loopback" else service


def check_version(version: str) -> str:
    """Return the version, or raise naming the ones that exist."""
    if version not in SERVICES_BY_VERSION:
        known = ", ".join(VERSIONS)
        raise DwwxError(
            f"unknown manifest version {version!r}; choose one of {known}", exit_code=2
        )
    return version


def resolve_service(name: str, *, version: str | None = None) -> str:
    """Turn a short or full service name into the full one, or raise."""
    full = SHORT_NAMES.get(name, name)
    known = SERVICES_BY_VERSION[version] if version else tuple(SHORT_NAMES.values())
    if full not in known:
        shorts = ", ".join(s for s, f in SHORT_NAMES.items() if f in known)
        where = f" in {version}" if version else ""
        raise DwwxError(
            f"unknown service {name!r}{where}; choose one of {shorts}", exit_code=2
        )
    return full


def parse_scale(values: list[str]) -> dict[str, int]:
    """Parse SERVICE=N pairs; only the save handler can have copies."""
    scale: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not count.isdigit() or int(count) < 1:
            raise DwwxError(
                f"bad scale {value!r}; write SERVICE=N with N >= 1, "
                "like save-handler=3",
                exit_code=2,
            )
        full = SHORT_NAMES.get(name, name)
        if full == "save-handler":
            full = HANDLER
        if full not in SCALABLE:
            raise DwwxError(
                f"cannot scale {name!r}; only save-handler can have copies",
                exit_code=2,
            )
        scale[full] = int(count)
    return scale


def check_scale(version: str, scale: Mapping[str, int]) -> None:
    """Refuse copies of a service that the version does not run."""
    for name in scale:
        if name not in SERVICES_BY_VERSION[version]:
            first = next(v for v in VERSIONS if name in SERVICES_BY_VERSION[v])
            raise DwwxError(
                f"{version} has no {name} to scale; it runs from {first} on: "
                f"dwwx up {first} --scale save-handler=N",
                exit_code=2,
            )


def copy_names(service: Service) -> list[str]:
    """Name the copies of a service like compose does: name-1, name-2, …"""
    return [f"{service.name}-{number}" for number in range(1, service.replicas + 1)]


def service_of(process: str) -> str:
    """Return the service a process or copy name belongs to."""
    for name in SCALABLE:
        number = process.removeprefix(f"{name}-")
        if number != process and number.isdigit():
            return name
    return process


def services(version: str, target: Target) -> list[Service]:
    """Describe every service of a manifest version for a target."""
    check_version(version)
    build = {
        DB: _database,
        WEB: _web,
        HOMEPAGE: _homepage,
        PROXY: _proxy,
        API: _reference_data_api,
        QUEUE: _message_queue,
        HANDLER: _save_handler,
    }
    return [build[name](version, target) for name in SERVICES_BY_VERSION[version]]


def _number(version: str) -> int:
    return int(version.removeprefix("v"))


def _database_secrets(target: Target) -> tuple[str, ...]:
    return () if target.database_engine == "sqlite" else ("DATABASE_PASSWORD",)


def _queue_url(target: Target) -> str:
    return f"nats://{target.host_of(QUEUE)}:{target.ports.queue}"


def _database(version: str, target: Target) -> Service:
    port = None if target.database_engine == "sqlite" else target.ports.database
    return Service(name=DB, port=port, health=Health("database"))


def _web(version: str, target: Target) -> Service:
    number = _number(version)
    behind_proxy = number >= 2
    port = target.ports.web if behind_proxy else target.ports.entry
    root_path = "/app" if behind_proxy else ""
    env = {
        "HOST": target.bind_host,
        "PORT": str(port),
        "ROOT_PATH": root_path,
        "DATABASE_URL": target.database_url,
        "SAVE_MODE": "async" if number >= 4 else "sync",
        "REFERENCE_DATA_SOURCE": "api" if number >= 3 else "db",
    }
    depends = [DB]
    secrets = ["SECRET_KEY", *_database_secrets(target)]
    if number >= 3:
        env["REFERENCE_DATA_API_URL"] = (
            f"http://{target.host_of(API)}:{target.ports.api}"
        )
        depends.append(API)
    if number >= 4:
        env["NATS_URL"] = _queue_url(target)
        secrets += ["NATS_USER", "NATS_PASSWORD"]
        depends.append(QUEUE)
    return Service(
        name=WEB,
        port=port,
        health=Health("http", port, f"{root_path}/healthz"),
        environment=env,
        secrets=tuple(secrets),
        depends_on=tuple(depends),
        module="src_apps.web",
        published=not behind_proxy,
    )


def _homepage(version: str, target: Target) -> Service:
    port = target.ports.homepage
    env = {"HOST": target.bind_host, "PORT": str(port), "SIGNUP_URL": "/app/"}
    return Service(
        name=HOMEPAGE,
        port=port,
        health=Health("http", port),
        environment=env,
        module="src_apps.homepage",
    )


def _proxy(version: str, target: Target) -> Service:
    port = target.ports.entry
    env = {
        "PROXY_PORT": str(port),
        "PROXY_BIND": target.bind_host,
        "HOMEPAGE_UPSTREAM": f"{target.host_of(HOMEPAGE)}:{target.ports.homepage}",
        "WEB_UPSTREAM": f"{target.host_of(WEB)}:{target.ports.web}",
    }
    return Service(
        name=PROXY,
        port=port,
        health=Health("http", port, "/proxy-healthz"),
        environment=env,
        depends_on=(HOMEPAGE, WEB),
        published=True,
    )


def _reference_data_api(version: str, target: Target) -> Service:
    port = target.ports.api
    env = {
        "HOST": target.bind_host,
        "PORT": str(port),
        "DATABASE_URL": target.database_url,
    }
    return Service(
        name=API,
        port=port,
        health=Health("http", port),
        environment=env,
        secrets=_database_secrets(target),
        depends_on=(DB,),
        module="src_apps.reference_api",
    )


def _message_queue(version: str, target: Target) -> Service:
    port = target.ports.queue
    return Service(
        name=QUEUE,
        port=port,
        health=Health(
            "http", target.ports.queue_monitor, "/healthz?js-enabled-only=true"
        ),
        secrets=("NATS_USER", "NATS_PASSWORD"),
    )


def _save_handler(version: str, target: Target) -> Service:
    env = {
        "DATABASE_URL": target.database_url,
        "NATS_URL": _queue_url(target),
    }
    return Service(
        name=HANDLER,
        port=None,
        # The handler serves nothing: its fetch loop touches a file each round.
        health=Health("heartbeat"),
        environment=env,
        secrets=("NATS_USER", "NATS_PASSWORD", *_database_secrets(target)),
        depends_on=(DB, QUEUE),
        module="src_apps.save_handler",
        replicas=target.scale.get(HANDLER, 1),
    )
