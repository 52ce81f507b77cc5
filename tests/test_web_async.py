"""The sign-up web in async mode: publish to JetStream, thank only after the ack."""

import asyncio
import json
import uuid
from datetime import datetime

import nats
from fastapi.testclient import TestClient
from nats.js.api import RawStreamMsg

from src_apps.shared.messages import MSG_ID_HEADER, STREAM, SUBJECT
from src_apps.web.app import UNAVAILABLE_MESSAGE
from tests.prospects import ADA
from tests.services import frozen, wait_for
from tests.test_web_helpers import (
    async_client,
    count_prospects,
    hidden_fields,
    sign_up,
    stream_sign_ups,
)


def last_sign_up(url: str) -> RawStreamMsg:
    """Read the newest sign-up event stored in the SIGNUPS stream."""

    async def read() -> RawStreamMsg:
        client = await nats.connect(url)
        try:
            return await client.jetstream().get_last_msg(STREAM, SUBJECT)
        finally:
            await client.close()

    return asyncio.run(read())


def healthz(client: TestClient) -> int:
    return client.get("/healthz").status_code


def test_sign_up_lands_in_the_stream_with_its_id_header(
    nats_server, sqlite_url, caplog
):
    caplog.set_level("INFO", logger="src_apps.web.saving")
    with async_client(nats_server.url, sqlite_url) as client:
        wait_for(lambda: healthz(client) == 200, timeout=15, what="queue connection")

        response = sign_up(client, "/signup", ADA)

        assert response.status_code == 303
        assert response.headers["location"] == "/thank-you"

    message = last_sign_up(nats_server.url)
    body = json.loads(message.data.decode("utf-8"))
    assert message.headers[MSG_ID_HEADER] == body["event_id"]
    assert uuid.UUID(body["event_id"]).version == 4
    assert body["schema"] == 1
    assert datetime.fromisoformat(body["signed_up_at"]).utcoffset().seconds == 0
    assert body["prospect"] == ADA
    assert (
        f"prospect sign-up published event_id={body['event_id']} email=ada@example.com"
    ) in caplog.messages
    assert count_prospects(sqlite_url) == 0


def test_health_reports_the_queue(nats_server, sqlite_url):
    with async_client(nats_server.url, sqlite_url) as client:
        wait_for(lambda: healthz(client) == 200, timeout=15, what="queue connection")

        assert client.get("/healthz").json()["checks"] == {
            "database": "ok",
            "queue": "ok",
            "reference_data": "ok",
        }


def assert_refused_with_values_kept(client: TestClient, sqlite_url: str) -> None:
    response = sign_up(client, "/signup", ADA)

    assert response.status_code == 503
    assert UNAVAILABLE_MESSAGE in response.text
    assert 'value="Ada"' in response.text
    assert 'value="ada@example.com"' in response.text
    assert '<option value="GBR" selected>' in response.text
    assert count_prospects(sqlite_url) == 0


def test_queue_outage_gives_503_then_heals_without_restart(
    own_nats_server, sqlite_url, caplog
):
    caplog.set_level("WARNING", logger="src_apps.web")
    with async_client(own_nats_server.url, sqlite_url) as client:
        wait_for(lambda: healthz(client) == 200, timeout=15, what="queue connection")

        own_nats_server.stop()
        wait_for(lambda: healthz(client) == 503, timeout=15, what="queue outage")
        assert_refused_with_values_kept(client, sqlite_url)
        assert any(
            message.startswith("sign-up not taken: connection to the queue")
            for message in caplog.messages
        )

        own_nats_server.start()
        wait_for(lambda: healthz(client) == 200, timeout=30, what="reconnection")
        response = sign_up(client, "/signup", ADA)

        assert response.status_code == 303
    body = json.loads(last_sign_up(own_nats_server.url).data)
    assert body["prospect"]["email_address"] == "ada@example.com"


def test_web_starts_while_the_queue_is_down(own_nats_server, sqlite_url):
    own_nats_server.stop()

    with async_client(own_nats_server.url, sqlite_url) as client:
        assert client.get("/signup").status_code == 200
        assert client.get("/healthz").json()["checks"]["queue"] == (
            "failing: not connected"
        )
        assert_refused_with_values_kept(client, sqlite_url)

        own_nats_server.start()
        wait_for(lambda: healthz(client) == 200, timeout=30, what="first connection")
        response = sign_up(client, "/signup", ADA)

        assert response.status_code == 303
    assert last_sign_up(own_nats_server.url).headers[MSG_ID_HEADER]


def test_async_mode_still_reads_reference_data_from_the_database(
    nats_server, sqlite_url
):
    with async_client(nats_server.url, sqlite_url) as client:
        assert 'value="TNL"' in client.get("/signup").text


def test_unacknowledged_publish_gives_503_and_the_retry_is_stored_once(
    own_nats_server, sqlite_url, caplog
):
    caplog.set_level("INFO", logger="src_apps.web")
    url = own_nats_server.url
    with async_client(url, sqlite_url, publish_timeout=0.3) as client:
        wait_for(lambda: healthz(client) == 200, timeout=15, what="queue connection")
        form = {**ADA, **hidden_fields(client.get("/signup").text)}
        event_id = form["signup_id"].split(".")[0]

        # Suspended, the server keeps the connection open but acknowledges
        # nothing; once resumed it stores what was sent meanwhile.
        with frozen(own_nats_server.process.pid):
            response = client.post("/signup", data=form)
        retry = client.post("/signup", data=form)

    assert response.status_code == 503
    assert UNAVAILABLE_MESSAGE in response.text
    assert 'value="Ada"' in response.text
    assert '<option value="GBR" selected>' in response.text
    assert hidden_fields(response.text)["signup_id"] == form["signup_id"]
    assert (
        f"sign-up not taken: no acknowledgement from the queue at {url} within 0.3 s"
    ) in caplog.messages
    assert retry.status_code == 303
    assert retry.headers["location"] == "/thank-you"
    assert (
        f"prospect sign-up already published event_id={event_id} "
        "email=ada@example.com; the form was sent again"
    ) in caplog.messages
    [stored] = stream_sign_ups(url)
    assert stored.headers[MSG_ID_HEADER] == event_id
