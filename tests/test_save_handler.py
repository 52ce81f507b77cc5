"""The save handler saves each published sign-up once and dead-letters poison."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from src_apps.save_handler import healthcheck, store
from src_apps.save_handler.settings import HandlerSettings
from src_apps.shared import database
from src_apps.shared.messages import (
    DEAD_REASON_HEADER,
    MSG_ID_HEADER,
    SUBJECT,
    PoisonMessageError,
    ProspectSignedUp,
)
from src_apps.shared.settings import load_settings
from tests.services import free_port, wait_for
from tests.test_save_handler_support import (
    REPO,
    consumer_info,
    dead_letters,
    new_event,
    publish,
    publish_events,
    saved_event_ids,
    start_handler,
    wait_until_saved,
)

__all__ = ["start_handler"]  # a fixture, used by name


def test_published_event_is_saved_and_logged(
    own_nats_server, sqlite_url, start_handler
):
    handler = start_handler(own_nats_server.url, sqlite_url)
    event = new_event()

    handler.wait_until_listening()
    publish_events(own_nats_server.url, [event])
    wait_until_saved(sqlite_url, [event])

    handler.wait_for_log(f"Prospect saved. Prospect ID: 1; event ID: {event.event_id}")
    assert f"Connecting to message queue url: {own_nats_server.url}" in handler.log
    assert f"Listening on subject: {SUBJECT}, consumer: save-handler" in handler.log
    assert f"Received event ID: {event.event_id}; email: ada@example.com" in handler.log
    assert "Lovelace" not in handler.log


def test_events_published_before_the_handler_starts_are_saved(
    own_nats_server, sqlite_url, start_handler
):
    events = [new_event(first_name=f"Early {n}") for n in range(3)]

    publish_events(own_nats_server.url, events)
    start_handler(own_nats_server.url, sqlite_url)

    wait_until_saved(sqlite_url, events)


def test_event_published_twice_makes_one_row(
    own_nats_server, sqlite_url, start_handler
):
    handler = start_handler(own_nats_server.url, sqlite_url)
    event = new_event()
    after = new_event(first_name="After")

    handler.wait_until_listening()
    # Different message ids, so the stream's deduplication does not hide the copy.
    publish(own_nats_server.url, [event.to_bytes()], msg_ids=["first"])
    publish(own_nats_server.url, [event.to_bytes()], msg_ids=["second"])
    publish_events(own_nats_server.url, [after])
    wait_until_saved(sqlite_url, [after])

    handler.wait_for_log(f"Prospect already saved; event ID: {event.event_id}")
    assert sorted(saved_event_ids(sqlite_url)) == sorted(
        [str(event.event_id), str(after.event_id)]
    )


def _body(**changes: object) -> bytes:
    body = json.loads(new_event().to_bytes())
    for key, value in changes.items():
        if key in body:
            body[key] = value
        else:
            body["prospect"][key] = value
    return json.dumps(body).encode()


def _without_email() -> bytes:
    body = json.loads(new_event().to_bytes())
    del body["prospect"]["email_address"]
    return json.dumps(body).encode()


POISON = {
    "not JSON": (b"<prospect>Ada</prospect>", "not UTF-8 JSON: Expecting value"),
    "not UTF-8": (b'{"event_id": "\xff"}', "not UTF-8 JSON: 'utf-8' codec"),
    "wrong schema": (_body(schema=2), "unsupported schema 2, expected 1"),
    "unknown role": (
        _body(role_code="ZZ"),
        "invalid prospect: role_code: Choose a role from the list.",
    ),
    "unknown country": (
        _body(country_code="ATL"),
        "invalid prospect: country_code: Choose a country from the list.",
    ),
    "field too long": (
        _body(company_name="x" * 51),
        "invalid prospect: company_name: Company must be at most 50 characters.",
    ),
    "control character": (
        _body(first_name="Ada\u0000"),
        "invalid prospect: first_name: First name must not contain control characters.",
    ),
    "missing field": (
        _without_email(),
        "invalid event: prospect.email_address: Field required",
    ),
}


@pytest.mark.parametrize("body, reason", POISON.values(), ids=POISON.keys())
def test_poison_is_recognised_with_its_reason(sqlite_url, body, reason):
    engine = database.make_engine(sqlite_url)
    database.prepare_database(engine)
    codes = store.load_codes(engine)
    engine.dispose()

    try:
        event = ProspectSignedUp.from_bytes(body)
    except PoisonMessageError as exc:
        found = str(exc)
    else:
        _, problems = store.check(event, codes)
        found = store.describe(problems) or ""

    assert found.startswith(reason)


def test_poison_is_dead_lettered_and_the_next_event_saved(
    own_nats_server, sqlite_url, start_handler
):
    handler = start_handler(own_nats_server.url, sqlite_url)
    good = new_event()

    handler.wait_until_listening()
    bodies = [body for body, _ in POISON.values()]
    publish(own_nats_server.url, bodies, msg_ids=list(POISON))
    publish_events(own_nats_server.url, [good])
    wait_until_saved(sqlite_url, [good])

    dead = {
        msg.headers["Dwwx-Original-Msg-Id"]: msg
        for msg in dead_letters(own_nats_server.url, len(POISON))
    }
    for kind, (body, reason) in POISON.items():
        assert dead[kind].data == body
        assert dead[kind].headers[DEAD_REASON_HEADER].startswith(reason)
        assert dead[kind].headers["Dwwx-Original-Subject"] == SUBJECT
        original_sequence = dead[kind].headers["Dwwx-Original-Sequence"]
        assert dead[kind].headers[MSG_ID_HEADER] == f"dead-{original_sequence}"
        assert f"Message dead-lettered. Event ID: {kind}; reason: {reason}" in (
            handler.log
        )
    assert saved_event_ids(sqlite_url) == [str(good.event_id)]
    # Terminated, not left for redelivery, and the dead letters are not fed back.
    wait_for(
        lambda: consumer_info(own_nats_server.url).num_ack_pending == 0,
        timeout=5,
        what="nothing pending an ack",
    )
    assert handler.count("Message dead-lettered") == len(POISON)


def test_metrics_count_what_happened(own_nats_server, sqlite_url, start_handler):
    port = free_port()
    handler = start_handler(own_nats_server.url, sqlite_url, METRICS_PORT=str(port))
    events = [new_event(), new_event()]

    handler.wait_until_listening()
    publish_events(own_nats_server.url, events)
    publish(own_nats_server.url, [b"not json"])
    wait_until_saved(sqlite_url, events)
    handler.wait_for_log("Message dead-lettered")

    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    assert "signup_save_handler_received_total 3.0" in text
    assert "signup_save_handler_saved_total 2.0" in text
    assert "signup_save_handler_dead_lettered_total 1.0" in text
    assert "signup_save_handler_failed_total 0.0" in text


def _healthcheck(env: dict[str, str], monkeypatch, capsys) -> tuple[int, str, str]:
    for name in ("HEALTH_FILE", "HEALTH_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        healthcheck.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_health_file_is_touched_by_the_loop(
    own_nats_server, sqlite_url, start_handler, tmp_path, monkeypatch, capsys
):
    health_file = tmp_path / "alive"
    handler = start_handler(
        own_nats_server.url, sqlite_url, HEALTH_FILE=str(health_file)
    )
    handler.wait_until_listening()
    wait_for(health_file.exists, timeout=10, what="the health file")
    first = health_file.stat().st_mtime_ns

    wait_for(
        lambda: health_file.stat().st_mtime_ns > first,
        timeout=5,
        what="the health file to be touched again",
    )
    env = {"HEALTH_FILE": str(health_file), "HEALTH_MAX_AGE": "5"}
    assert _healthcheck(env, monkeypatch, capsys) == (0, "healthy\n", "")


def test_healthcheck_fails_on_a_stale_or_missing_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "alive"
    stale.touch()
    os.utime(stale, (1_000_000_000, 1_000_000_000))

    old = _healthcheck(
        {"HEALTH_FILE": str(stale), "HEALTH_MAX_AGE": "30"}, monkeypatch, capsys
    )
    missing = _healthcheck({"HEALTH_FILE": str(tmp_path / "none")}, monkeypatch, capsys)
    unset = _healthcheck({}, monkeypatch, capsys)

    assert old[0] == 1
    assert old[2].startswith(f"unhealthy: health file {stale} is ")
    assert old[2].endswith("s old, more than 30s\n")
    assert missing == (
        1,
        "",
        f"unhealthy: health file {tmp_path / 'none'} does not exist yet\n",
    )
    assert unset == (2, "", "invalid setting HEALTH_FILE=<missing>: Field required\n")


BAD_SETTINGS = {
    "BATCH_SIZE": (
        "0",
        "invalid setting BATCH_SIZE='0': Input should be greater than or equal to 1",
    ),
    "FETCH_TIMEOUT": (
        "soon",
        "invalid setting FETCH_TIMEOUT='soon': Input should be a valid number, "
        "unable to parse string as a number",
    ),
    "NAK_DELAY_MAX": (
        "0.5",
        "invalid setting NAK_DELAY_MAX='0.5': Value error, "
        "must be at least NAK_DELAY_BASE (1.0)",
    ),
    "METRICS_PORT": (
        "70000",
        "invalid setting METRICS_PORT='70000': "
        "Input should be less than or equal to 65535",
    ),
    "LOG_LEVEL": (
        "chatty",
        "invalid setting LOG_LEVEL='chatty': "
        "Input should be 'debug', 'info', 'warning' or 'error'",
    ),
}


@pytest.mark.parametrize("name", BAD_SETTINGS)
def test_a_bad_setting_is_named_in_one_line(name, monkeypatch, capsys):
    value, message = BAD_SETTINGS[name]
    monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as exit_info:
        load_settings(HandlerSettings)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err == message + "\n"


def test_message_id_is_shown_for_an_event_without_one(
    own_nats_server, sqlite_url, start_handler
):
    handler = start_handler(own_nats_server.url, sqlite_url)

    handler.wait_until_listening()
    publish(own_nats_server.url, [b"\x00"], msg_ids=[None])

    handler.wait_for_log("Event ID: <none; stream sequence 1>; reason: not UTF-8 JSON")


def test_an_unusable_database_url_is_named_without_its_value():
    result = subprocess.run(
        [sys.executable, "-m", "src_apps.save_handler"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "secret-looking nonsense"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert (result.returncode, result.stderr) == (
        2,
        "invalid setting DATABASE_URL: "
        "Could not parse SQLAlchemy URL from given URL string\n",
    )
