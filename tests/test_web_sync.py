"""The sign-up web in sync mode: form, validation, CSRF, escaping, root path."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from src_apps.web.app import create_app
from tests.prospects import ADA
from tests.test_web_helpers import (
    count_prospects,
    csrf_token,
    options,
    running,
    sign_up,
    stored_prospects,
    web_settings,
)

# The web answers an invalid sign-up with 422: the request was well formed,
# the values in it were not.
INVALID = 422


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(
        create_app(web_settings(database_url=sqlite_url)), follow_redirects=False
    ) as client:
        yield client


def test_home_page_calls_to_sign_up(client):
    response = client.get("/")

    assert response.status_code == 200
    assert '<a class="button" href="/signup">Sign up</a>' in response.text


def test_form_offers_reference_data_in_display_order(client):
    html = client.get("/signup").text

    assert options(html, "role_code") == [
        ("-", "--Not telling"),
        ("AC", "Architect"),
        ("DM", "Decision Maker"),
        ("DA", "Developer Advocate"),
        ("EN", "Engineer"),
        ("OP", "IT Ops"),
    ]
    countries = options(html, "country_code")
    assert countries[0] == ("-", "--Not telling")
    assert [name for _, name in countries[1:]] == sorted(
        name for _, name in countries[1:]
    )
    assert len(countries) == 14


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_valid_sign_up_is_saved_and_thanked(engine, request):
    url = request.getfixturevalue(f"{engine}_url")
    app = create_app(web_settings(database_url=url))
    with TestClient(app, follow_redirects=False) as client:
        response = sign_up(client, "/signup", ADA)

        assert response.status_code == 303
        assert response.headers["location"] == "/thank-you"
        thanks = client.get(response.headers["location"])
        assert thanks.status_code == 200
        assert "Thank you!" in thanks.text

    [row] = stored_prospects(url)
    assert {name: row[name] for name in ADA} == ADA
    assert len(row["event_id"]) == 36


def test_sign_up_logs_the_saved_id_and_email(client, caplog):
    caplog.set_level("INFO", logger="src_apps.web.saving")

    sign_up(client, "/signup", ADA)

    assert "prospect saved id=1 email=ada@example.com" in caplog.messages


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "", "First name is required."),
        ("last_name", "", "Last name is required."),
        ("company_name", "", "Company is required."),
        ("email_address", "", "Email is required."),
        ("role_code", "", "Choose a role from the list."),
        ("country_code", "", "Choose a country from the list."),
        ("first_name", "   ", "First name is required."),
        (
            "email_address",
            "ada.example.com",
            "Enter a valid email address, like ada@example.com.",
        ),
        ("first_name", "A" * 51, "First name must be at most 50 characters."),
        ("company_name", "C" * 51, "Company must be at most 50 characters."),
        (
            "email_address",
            "a" * 90 + "@example.com",
            "Email must be at most 100 characters.",
        ),
        (
            "last_name",
            "Love\u0000lace",
            "Last name must not contain control characters.",
        ),
        ("role_code", "CEO", "Choose a role from the list."),
        ("country_code", "FRA", "Choose a country from the list."),
    ],
)
def test_invalid_sign_up_is_shown_again_with_message(
    client, sqlite_url, field, value, message
):
    response = sign_up(client, "/signup", {**ADA, field: value})

    assert response.status_code == INVALID
    assert f'<p class="error" id="{field}-error">{message}</p>' in response.text
    for name in ("first_name", "last_name", "company_name", "email_address"):
        if name != field:
            assert f'value="{ADA[name]}"' in response.text
    assert '<option value="EN" selected>' in response.text or field == "role_code"
    assert count_prospects(sqlite_url) == 0


def test_missing_field_entirely_is_reported(client, sqlite_url):
    fields = {name: value for name, value in ADA.items() if name != "last_name"}

    response = sign_up(client, "/signup", fields)

    assert response.status_code == INVALID
    assert "Last name is required." in response.text
    assert count_prospects(sqlite_url) == 0


@pytest.mark.parametrize(
    "token",
    [None, "", "forged-token", "tampered"],
    ids=["missing", "empty", "forged", "tampered"],
)
def test_post_without_valid_csrf_token_is_refused(client, sqlite_url, token):
    real = csrf_token(client.get("/signup").text)
    fields = dict(ADA)
    if token == "tampered":
        fields["csrf_token"] = real[:-2] + ("AA" if real[-2:] != "AA" else "BB")
    elif token is not None:
        fields["csrf_token"] = token

    response = client.post("/signup", data=fields)

    assert response.status_code == 403
    assert "We could not accept that form" in response.text
    assert count_prospects(sqlite_url) == 0


def test_token_without_its_cookie_is_refused(client, sqlite_url):
    token = csrf_token(client.get("/signup").text)
    client.cookies.clear()

    response = client.post("/signup", data={**ADA, "csrf_token": token})

    assert response.status_code == 403
    assert count_prospects(sqlite_url) == 0


def test_values_are_escaped_when_shown_again(client, sqlite_url):
    script = "<script>alert('x')</script>"

    response = sign_up(
        client, "/signup", {**ADA, "first_name": script, "email_address": "bad"}
    )

    assert response.status_code == INVALID
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in response.text


def test_script_is_stored_verbatim_and_never_rendered(client, sqlite_url):
    script = "<script>alert(1)</script>"

    response = sign_up(client, "/signup", {**ADA, "company_name": script})

    assert response.status_code == 303
    assert stored_prospects(sqlite_url)[0]["company_name"] == script


def test_health_reports_database_and_reference_data(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "reference_data": "ok"},
    }


class TestRootPath:
    """Behind the proxy the web serves everything under /app, unchanged."""

    @pytest.fixture
    def client(self, sqlite_url: str) -> Iterator[TestClient]:
        settings = web_settings(database_url=sqlite_url, root_path="/app")
        with TestClient(create_app(settings), follow_redirects=False) as client:
            yield client

    def test_root_without_slash_redirects(self, client):
        response = client.get("/app")

        assert response.status_code in (307, 308)
        assert response.headers["location"] == "/app/"

    def test_links_and_static_files_carry_the_prefix(self, client):
        html = client.get("/app/").text

        assert 'href="/app/signup"' in html
        assert 'href="/app/static/style.css"' in html
        assert client.get("/app/static/style.css").status_code == 200
        assert 'action="/app/signup"' in client.get("/app/signup").text

    def test_nothing_is_served_outside_the_prefix(self, client):
        assert client.get("/signup").status_code == 404
        assert client.get("/static/style.css").status_code == 404

    def test_sign_up_redirects_under_the_prefix(self, client, sqlite_url):
        form = client.get("/app/signup")
        assert "Path=/app;" in form.headers["set-cookie"]

        response = client.post(
            "/app/signup", data={**ADA, "csrf_token": csrf_token(form.text)}
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/app/thank-you"
        assert client.get("/app/thank-you").status_code == 200
        assert client.get("/app/healthz").status_code == 200
        assert count_prospects(sqlite_url) == 1


def test_real_process_takes_a_sign_up_over_http(tmp_path: Path, sqlite_url):
    env = {"DATABASE_URL": sqlite_url, "SECRET_KEY": "x" * 32, "ROOT_PATH": "/app"}

    with running("src_apps.web", env, tmp_path / "web.log") as web:
        web.wait_until_healthy("/app/healthz")
        with httpx.Client(base_url=web.url) as http:
            response = sign_up(http, "/app/signup", ADA)
            assert response.status_code == 303
            assert http.get(response.headers["location"]).status_code == 200

    assert [row["email_address"] for row in stored_prospects(sqlite_url)] == [
        "ada@example.com"
    ]
    assert "prospect saved id=1 email=ada@example.com" in web.log()


def test_database_outage_gives_503_with_values_kept(postgres_cluster, postgres_url):
    name = postgres_url.rsplit("/", 1)[1]
    app = create_app(web_settings(database_url=postgres_url))
    with TestClient(app, follow_redirects=False) as client:
        form = client.get("/signup")
        admin = f"postgresql://postgres@127.0.0.1:{postgres_cluster.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

        response = client.post(
            "/signup", data={**ADA, "csrf_token": csrf_token(form.text)}
        )
        health = client.get("/healthz")

    assert response.status_code == 503
    assert "We could not take your sign-up just now. Please try again." in (
        response.text
    )
    assert 'value="Lovelace"' in response.text
    assert health.status_code == 503
    assert health.json()["checks"]["database"] == "failing: OperationalError"
