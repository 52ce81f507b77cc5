"""The catalogue: which services each version has, and how they are wired."""

import pytest

from dwwx import catalogue
from dwwx.catalogue import Ports, Target
from dwwx.errors import DwwxError

LOCAL = Target(
    ports=Ports(8020), database_url="sqlite:///x.db", database_engine="sqlite"
)


@pytest.mark.parametrize(
    ("version", "names"),
    [
        ("v1", ["signup-db", "signup-web"]),
        ("v2", ["signup-db", "signup-web", "homepage", "proxy"]),
        ("v3", ["signup-db", "signup-web", "homepage", "proxy", "reference-data-api"]),
        (
            "v4",
            [
                "signup-db",
                "signup-web",
                "homepage",
                "proxy",
                "reference-data-api",
                "message-queue",
                "signup-save-handler",
            ],
        ),
    ],
)
def test_each_version_adds_the_workshops_services(version, names):
    assert [s.name for s in catalogue.services(version, LOCAL)] == names


@pytest.mark.parametrize(
    ("version", "port", "root", "save", "source"),
    [
        ("v1", 8020, "", "sync", "db"),
        ("v2", 8021, "/app", "sync", "db"),
        ("v3", 8021, "/app", "sync", "api"),
        ("v4", 8021, "/app", "async", "api"),
    ],
)
def test_the_web_switches_by_environment(version, port, root, save, source):
    web = catalogue.services(version, LOCAL)[1]

    assert web.port == port
    assert web.environment["ROOT_PATH"] == root
    assert web.environment["SAVE_MODE"] == save
    assert web.environment["REFERENCE_DATA_SOURCE"] == source


def test_every_port_follows_the_entry_port():
    target = Target(
        ports=Ports(30000), database_url="sqlite://", database_engine="sqlite"
    )
    by_name = {s.name: s for s in catalogue.services("v4", target)}

    assert by_name["proxy"].port == 30000
    assert by_name["signup-web"].environment["NATS_URL"] == "nats://127.0.0.1:30004"
    assert by_name["message-queue"].health.url() == (
        "http://127.0.0.1:30005/healthz?js-enabled-only=true"
    )


def test_services_reach_each_other_by_name_on_a_compose_network():
    target = Target(
        ports=Ports(8020),
        database_url="postgresql+psycopg://postgres@signup-db:5432/signup",
        database_engine="postgres",
        service_host="service-name",
    )
    proxy = catalogue.services("v4", target)[3]

    assert proxy.environment["WEB_UPSTREAM"] == "signup-web:8021"


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("web", "signup-web"),
        ("handler", "signup-save-handler"),
        ("mq", "message-queue"),
    ],
)
def test_short_names_resolve(name, full):
    assert catalogue.resolve_service(name) == full


def test_unknown_version_names_the_known_ones():
    with pytest.raises(DwwxError) as caught:
        catalogue.check_version("v9")

    assert caught.value.message == (
        "unknown manifest version 'v9'; choose one of v1, v2, v3, v4"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("save-handler", "bad scale 'save-handler'; write SERVICE=N with N >= 1, "
         "like save-handler=3"),
        ("save-handler=0", "bad scale 'save-handler=0'; write SERVICE=N with N >= 1, "
         "like save-handler=3"),
        ("web=2", "cannot scale 'web'; only save-handler can have copies"),
    ],
)  # fmt: skip
def test_bad_scale_is_refused(spec, message):
    with pytest.raises(DwwxError) as caught:
        catalogue.parse_scale([spec])

    assert caught.value.message == message


@pytest.mark.parametrize("spec", ["save-handler=3", "handler=3"])
def test_scale_names_the_handler(spec):
    assert catalogue.parse_scale([spec]) == {"signup-save-handler": 3}


@pytest.mark.parametrize(
    ("process", "service"),
    [
        ("signup-save-handler-2", "signup-save-handler"),
        ("signup-save-handler-12", "signup-save-handler"),
        ("signup-web", "signup-web"),
        ("signup-save-handler-x", "signup-save-handler-x"),
    ],
)
def test_a_copy_belongs_to_its_service(process, service):
    assert catalogue.service_of(process) == service


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_handler_copies_need_v4(version):
    with pytest.raises(DwwxError) as caught:
        catalogue.check_scale(version, {"signup-save-handler": 2})

    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"{version} has no signup-save-handler")
