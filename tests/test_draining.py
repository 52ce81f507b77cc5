"""What counts as a sign-up still waiting for the save handler in a /jsz report."""

import json

import pytest

from dwwx import catalogue, draining
from dwwx.errors import DwwxError
from dwwx.manifests import local_target
from dwwx.settings import Settings
from dwwx.state import Record, StateDir


def _report(*consumers: tuple[str, str, int, int]) -> str:
    streams: dict[str, list[dict[str, object]]] = {}
    for stream, name, pending, ack_pending in consumers:
        streams.setdefault(stream, []).append(
            {"name": name, "num_pending": pending, "num_ack_pending": ack_pending}
        )
    details = [{"name": s, "consumer_detail": c} for s, c in streams.items()]
    return json.dumps({"account_details": [{"stream_detail": details}]})


@pytest.mark.parametrize(
    ("report", "waiting"),
    [
        (_report(("SIGNUPS", "save-handler", 3, 2)), 5),
        (_report(("SIGNUPS", "save-handler", 0, 0)), 0),
        (_report(("SIGNUPS", "index-handler", 7, 0)), 0),
        (_report(("OTHER", "save-handler", 7, 0)), 0),
        (json.dumps({"account_details": None}), 0),
        ("<html>", None),
    ],
    ids=["pending", "drained", "other consumer", "other stream", "none", "garbage"],
)
def test_only_the_save_handlers_unacked_events_wait(report, waiting):
    assert draining.unsaved_sign_ups(report) == waiting


@pytest.mark.parametrize(
    ("before", "after", "drops"),
    [("v4", "v3", True), ("v4", "v1", True), ("v4", "v4", False), ("v3", "v2", False)],
)
def test_a_drain_is_needed_only_when_the_handler_goes(target, before, after, drops):
    previous = Record(
        runtime="local", version=before, port=8020, database_engine="sqlite", scale={}
    )
    services = catalogue.services(after, target)

    assert draining.drops_the_handler(previous, services) is drops


def test_nothing_running_needs_no_drain(target):
    assert not draining.drops_the_handler(None, catalogue.services("v3", target))


def test_a_drain_that_never_ends_says_how_many_wait():
    report = _report(("SIGNUPS", "save-handler", 4, 0))

    with pytest.raises(DwwxError) as caught:
        draining.wait_until_drained(lambda: report, timeout=0)

    assert caught.value.message.startswith(
        "4 sign-ups are still waiting for the save handler after 0 s"
    )


@pytest.fixture
def target(tmp_path) -> catalogue.Target:
    return local_target(Settings(), StateDir(tmp_path / ".dwwx"), {})
