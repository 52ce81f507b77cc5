"""The save handler loses no sign-up when it, the queue or the database fails."""

import re
import signal
from collections import Counter

import psycopg
import pytest

from src_apps.shared.messages import ProspectSignedUp
from tests.services import free_port
from tests.test_save_handler_support import (
    consumer_info,
    new_event,
    publish,
    publish_events,
    saved_event_ids,
    start_handler,
    wait_until_saved,
)

__all__ = ["start_handler"]  # a fixture, used by name


def _events(count: int) -> list[ProspectSignedUp]:
    return [new_event(first_name=f"Prospect {n}") for n in range(count)]


def test_sigterm_finishes_and_exits_zero(own_nats_server, sqlite_url, start_handler):
    handler = start_handler(own_nats_server.url, sqlite_url, BATCH_SIZE="10")
    events = _events(100)

    handler.wait_until_listening()
    publish_events(own_nats_server.url, events)
    handler.wait_for_log("Prospect saved.")
    # Within stop's 15 s: a fetch and a batch, not nats.py's 30 s drain timeout.
    code = handler.stop(signal.SIGTERM)

    assert code == 0, handler.log
    assert "Stopping: finishing the batch in hand" in handler.log
    assert handler.log.rstrip().endswith("Save handler stopped")
    # Whatever this copy fetched it saved and acked before leaving.
    assert consumer_info(own_nats_server.url).num_ack_pending == 0
    assert len(saved_event_ids(sqlite_url)) == handler.count("Prospect saved.")


def test_killed_handler_loses_and_doubles_nothing(
    own_nats_server, sqlite_url, start_handler
):
    first = start_handler(own_nats_server.url, sqlite_url, BATCH_SIZE="5")
    events = _events(200)

    first.wait_until_listening()
    publish_events(own_nats_server.url, events)
    first.wait_for_log("Prospect saved.", times=10)
    first.kill()
    start_handler(own_nats_server.url, sqlite_url, HANDLER_NAME="after-kill")

    wait_until_saved(sqlite_url, events)
    saved = saved_event_ids(sqlite_url)
    assert sorted(saved) == sorted(str(event.event_id) for event in events)


def test_copies_share_the_consumer_and_save_each_event_once(
    own_nats_server, sqlite_url, start_handler
):
    copies = [
        start_handler(own_nats_server.url, sqlite_url, BATCH_SIZE="3") for _ in range(3)
    ]
    events = _events(150)

    for handler in copies:
        handler.wait_until_listening()
    for start in range(0, len(events), 10):
        publish_events(own_nats_server.url, events[start : start + 10])

    wait_until_saved(sqlite_url, events)
    saved = saved_event_ids(sqlite_url)
    assert sorted(saved) == sorted(str(event.event_id) for event in events)
    saves = [handler.count("Prospect saved.") for handler in copies]
    assert sum(saves) == len(events)
    assert sum(1 for count in saves if count) > 1, saves


def test_queue_restart_is_survived(own_nats_server, sqlite_url, start_handler):
    handler = start_handler(own_nats_server.url, sqlite_url)
    before, after = _events(3), _events(3)

    handler.wait_until_listening()
    publish_events(own_nats_server.url, before)
    wait_until_saved(sqlite_url, before)
    own_nats_server.restart()
    handler.wait_for_log("Reconnected: re-creating the subscription")
    publish_events(own_nats_server.url, after)

    wait_until_saved(sqlite_url, after)
    assert len(saved_event_ids(sqlite_url)) == 6


def test_queue_down_for_a_while_is_survived(own_nats_server, sqlite_url, start_handler):
    handler = start_handler(own_nats_server.url, sqlite_url)
    events = _events(3)

    handler.wait_until_listening()
    own_nats_server.stop()
    handler.wait_for_log("disconnected from the queue")
    own_nats_server.start()
    publish_events(own_nats_server.url, events)

    wait_until_saved(sqlite_url, events)


def test_lost_consumer_is_created_again(own_nats_server, sqlite_url, start_handler):
    import asyncio

    import nats

    async def delete_consumer() -> None:
        nc = await nats.connect(own_nats_server.url)
        await nc.jetstream().delete_consumer("SIGNUPS", "save-handler")
        await nc.close()

    handler = start_handler(own_nats_server.url, sqlite_url)
    events = _events(2)

    handler.wait_until_listening()
    asyncio.run(delete_consumer())
    publish_events(own_nats_server.url, events)

    wait_until_saved(sqlite_url, events)


def _allow_connections(postgres_url: str, *, allowed: bool) -> None:
    """Open or shut the test database to new connections, ending the current ones."""
    admin, name = postgres_url.replace("+psycopg", "").rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s",
                (name,),
            )


@pytest.mark.postgres
def test_database_outage_naks_with_growing_delay_then_saves(
    own_nats_server, postgres_url, start_handler
):
    handler = start_handler(
        own_nats_server.url,
        postgres_url,
        NAK_DELAY_BASE="0.2",
        NAK_DELAY_MAX="0.8",
    )
    event = new_event()

    handler.wait_until_listening()
    _allow_connections(postgres_url, allowed=False)
    try:
        publish_events(own_nats_server.url, [event])
        handler.wait_for_log("Save failed, retrying in", times=4)
    finally:
        _allow_connections(postgres_url, allowed=True)

    wait_until_saved(postgres_url, [event])
    delays = re.findall(r"Save failed, retrying in ([\d.]+)s", handler.log)
    assert delays[:4] == ["0.2", "0.4", "0.8", "0.8"]
    assert f"Event ID: {event.event_id}; reason: " in handler.log
    assert saved_event_ids(postgres_url) == [str(event.event_id)]


@pytest.mark.postgres
def test_batches_on_postgres_save_each_event_once(
    own_nats_server, postgres_url, start_handler
):
    handler = start_handler(own_nats_server.url, postgres_url, BATCH_SIZE="50")
    events = _events(40)

    handler.wait_until_listening()
    publish_events(own_nats_server.url, events)
    wait_until_saved(postgres_url, events)
    # Again, under new message ids: every one is a redelivered event now.
    publish(
        own_nats_server.url,
        [event.to_bytes() for event in events],
        msg_ids=[f"again-{n}" for n in range(len(events))],
    )
    again = [new_event(first_name="Sentinel")]
    publish_events(own_nats_server.url, again)
    wait_until_saved(postgres_url, again)

    counts = Counter(saved_event_ids(postgres_url))
    assert len(counts) == 41
    assert set(counts.values()) == {1}
    assert handler.count("Prospect already saved") == 40


def test_sigterm_while_the_queue_never_answers_exits_zero(sqlite_url, start_handler):
    nowhere = f"nats://127.0.0.1:{free_port()}"
    handler = start_handler(nowhere, sqlite_url)

    handler.wait_for_log("queue connection error")
    code = handler.stop(signal.SIGTERM)

    assert code == 0, handler.log
    assert handler.log.rstrip().endswith("Save handler stopped")
