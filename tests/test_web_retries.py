"""A form sent again is one sign-up: the form's signed id is the event's id."""

import json
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from itsdangerous import Signer

from src_apps.shared.messages import MSG_ID_HEADER
from src_apps.web.app import create_app
from src_apps.web.signup_ids import SignupIds
from tests.prospects import ADA
from tests.services import wait_for
from tests.test_web_helpers import (
    SECRET,
    async_client,
    hidden_fields,
    stored_prospects,
    stream_sign_ups,
    web_settings,
)

SIGNED_UUID = re.compile(r"^([0-9a-f-]{36})\.[A-Za-z0-9_-]+$")
NOT_OURS = "sign-up id not issued by this web; the sign-up gets a new one"


def sync_client(database_url: str) -> TestClient:
    app = create_app(web_settings(database_url=database_url))
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with sync_client(sqlite_url) as client:
        yield client


def open_form(client: TestClient) -> dict[str, str]:
    """Open the form and return what a browser would post: ADA and its hidden fields."""
    return {**ADA, **hidden_fields(client.get("/signup").text)}


def event_id(form: dict[str, str]) -> str:
    """Return the event id a form's signed sign-up id carries."""
    found = SIGNED_UUID.match(form["signup_id"])
    assert found, f"not a signed UUID: {form['signup_id']!r}"
    return found.group(1)


def test_each_form_carries_its_own_signed_uuid4(client):
    first, second = open_form(client), open_form(client)

    assert event_id(first) != event_id(second)
    assert uuid.UUID(event_id(first)).version == 4


def test_form_is_never_cached(client):
    """A form restored from a cache would make a new sign-up look like a retry."""
    assert client.get("/signup").headers["cache-control"] == "no-store"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_form_sent_twice_is_saved_once_under_its_id(engine, request, caplog):
    caplog.set_level("INFO", logger="src_apps.web.saving")
    url = request.getfixturevalue(f"{engine}_url")
    with sync_client(url) as client:
        form = open_form(client)

        first = client.post("/signup", data=form)
        again = client.post("/signup", data=form)

    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == "/thank-you"
    [row] = stored_prospects(url)
    assert row["event_id"] == event_id(form)
    assert (
        f"prospect already saved event_id={event_id(form)} email=ada@example.com; "
        "the form was sent again"
    ) in caplog.messages


def test_two_forms_are_two_sign_ups(client, sqlite_url):
    for form in (open_form(client), open_form(client)):
        assert client.post("/signup", data=form).status_code == 303

    assert len(stored_prospects(sqlite_url)) == 2


def test_form_shown_again_with_errors_keeps_its_id(client, sqlite_url):
    form = open_form(client)

    invalid = client.post("/signup", data={**form, "email_address": "ada.example"})
    corrected = client.post("/signup", data={**ADA, **hidden_fields(invalid.text)})

    assert invalid.status_code == 422
    assert hidden_fields(invalid.text)["signup_id"] == form["signup_id"]
    assert corrected.status_code == 303
    assert [row["event_id"] for row in stored_prospects(sqlite_url)] == [event_id(form)]


ANOTHER_WEB = Signer("another-secret-of-enough-length", salt="dwwx-signup-id")
STRANGER = str(uuid.uuid4())


@pytest.mark.parametrize(
    "signup_id",
    [None, "", STRANGER, ANOTHER_WEB.sign(STRANGER).decode()],
    ids=["missing", "empty", "unsigned", "signed-by-another-web"],
)
def test_form_without_an_id_of_ours_is_saved_under_a_new_one(
    client, sqlite_url, caplog, signup_id
):
    form = open_form(client)
    del form["signup_id"]
    if signup_id is not None:
        form["signup_id"] = signup_id

    response = client.post("/signup", data=form)

    assert response.status_code == 303
    [row] = stored_prospects(sqlite_url)
    assert uuid.UUID(row["event_id"]).version == 4
    assert row["event_id"] != STRANGER
    assert (NOT_OURS in caplog.messages) == bool(signup_id)


@pytest.mark.parametrize(
    "value",
    [
        Signer(SECRET, salt="dwwx-signup-id").sign("not-a-uuid").decode(),
        Signer(SECRET, salt="dwwx-signup-id").sign(str(uuid.uuid1())).decode(),
        Signer(SECRET, salt="dwwx-signup-id").sign(STRANGER.upper()).decode(),
        Signer(SECRET, salt="dwwx-csrf").sign(STRANGER).decode(),
        "é" * 40,
    ],
    ids=["not-a-uuid", "uuid1", "not-canonical", "other-salt", "not-ascii"],
)
def test_only_a_signed_canonical_uuid4_is_read_as_an_id(value):
    assert SignupIds(SECRET).read(value) is None


def test_an_issued_id_reads_back():
    ids = SignupIds(SECRET)
    signup_id = uuid.uuid4()

    assert ids.read(ids.issue(signup_id)) == signup_id


def test_form_published_twice_is_stored_once_in_the_stream(
    own_nats_server, sqlite_url, caplog
):
    caplog.set_level("INFO", logger="src_apps.web.saving")
    with async_client(own_nats_server.url, sqlite_url) as client:
        wait_for(
            lambda: client.get("/healthz").status_code == 200,
            timeout=15,
            what="queue connection",
        )
        form = open_form(client)

        first = client.post("/signup", data=form)
        again = client.post("/signup", data=form)

    assert first.status_code == again.status_code == 303
    [stored] = stream_sign_ups(own_nats_server.url)
    assert stored.headers[MSG_ID_HEADER] == event_id(form)
    assert json.loads(stored.data)["event_id"] == event_id(form)
    assert (
        f"prospect sign-up already published event_id={event_id(form)} "
        "email=ada@example.com; the form was sent again"
    ) in caplog.messages
