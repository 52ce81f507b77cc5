"""dwwx signup: only a landing on the thank-you page counts as a sign-up taken."""

import http.server
import threading
from collections.abc import Iterator

import pytest

from dwwx.signup import Outcome, sign_up_many
from tests.prospects import ADA
from tests.services import free_port
from tests.test_web_helpers import (
    SECRET,
    WebProcess,
    count_prospects,
    running,
)

BAD_EMAIL = "Enter a valid email address, like ada@example.com."
UNAVAILABLE = "We could not take your sign-up just now. Please try again."


@pytest.fixture(scope="module")
def sync_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProcess]:
    """A real sign-up web that saves to its own SQLite file (v1)."""
    folder = tmp_path_factory.mktemp("sync-web")
    env = {"DATABASE_URL": f"sqlite:///{folder / 'signup.db'}", "SECRET_KEY": SECRET}
    with running("src_apps.web", env, folder / "web.log") as web:
        web.wait_until_healthy()
        yield web


@pytest.fixture(scope="module")
def queueless_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProcess]:
    """A real web in async mode whose queue address has nothing listening."""
    folder = tmp_path_factory.mktemp("queueless-web")
    env = {
        "DATABASE_URL": f"sqlite:///{folder / 'signup.db'}",
        "SECRET_KEY": SECRET,
        "SAVE_MODE": "async",
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
    }
    with running("src_apps.web", env, folder / "web.log") as web:
        web.wait_until_healthy("/signup")
        yield web


class _NotTheSignUpApp(http.server.BaseHTTPRequestHandler):
    """Answer every request with 200 and a page of its own, as a stray server does."""

    def do_GET(self) -> None:
        self._answer(b'<form method="post"><input type="hidden" name="x" value="1">')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(b"<h1>Hello</h1>")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def stray_server() -> Iterator[str]:
    """A real HTTP server on loopback that is not the sign-up app."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotTheSignUpApp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sign_up_once(url: str, **changes: str) -> Outcome:
    [outcome] = sign_up_many(url, [{**ADA, **changes}], concurrency=1).outcomes
    return outcome


def test_landing_on_the_thank_you_page_is_accepted(sync_web):
    database_url = sync_web.env["DATABASE_URL"]
    before = count_prospects(database_url)

    outcome = sign_up_once(sync_web.url)

    assert (outcome.accepted, outcome.status, outcome.messages) == (True, 200, ())
    assert count_prospects(database_url) == before + 1


def test_form_shown_again_with_errors_is_refused_with_the_errors(sync_web):
    outcome = sign_up_once(sync_web.url, email_address="ada.example", last_name="")

    assert (outcome.accepted, outcome.status) == (False, 422)
    assert outcome.messages == ("Last name is required.", BAD_EMAIL)


def test_unavailable_queue_is_refused_with_the_notice(queueless_web):
    outcome = sign_up_once(queueless_web.url)

    assert (outcome.accepted, outcome.status, outcome.messages) == (
        False,
        503,
        (UNAVAILABLE,),
    )


def test_a_200_from_another_page_is_refused(stray_server):
    outcome = sign_up_once(stray_server)

    assert (outcome.accepted, outcome.status) == (False, 200)
    assert outcome.messages == ("ended on /signup, not on the thank-you page",)


def test_cli_reports_each_refusal_with_its_status(project, sync_web):
    result = project.dwwx("signup", "--url", sync_web.url, "--email", "ada.example")

    assert result.code == 1
    assert f"ada.example: HTTP 422 {BAD_EMAIL}\n" in result.out
    assert "accepted 0 of 1 sign-ups in " in result.out
    assert result.err == "dwwx: 1 sign-up refused\n"


def test_cli_counts_only_thanked_sign_ups(project, queueless_web):
    result = project.dwwx("signup", "--url", queueless_web.url, "--count", "3")

    assert result.code == 1
    # The console wraps long lines at its width; the words are what count.
    words = " ".join(result.out.split())
    assert words.count(f"@example.com: HTTP 503 {UNAVAILABLE} ") == 3
    assert "accepted 0 of 3 sign-ups in " in result.out
    assert result.err == "dwwx: 3 sign-ups refused\n"


def test_cli_accepts_a_thanked_sign_up(project, sync_web):
    result = project.dwwx("signup", "--url", sync_web.url, "--email", "cli@example.com")

    assert result.code == 0
    assert "accepted 1 of 1 sign-ups in " in result.out
