"""Sign up through the real form, as a browser does: fetch it, keep its token, post."""

import random
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx

from dwwx.errors import DwwxError
from src_apps.shared.reference import COUNTRIES, NOT_TELLING, ROLES

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson")
COMPANIES = ("Analytical Engines", "Compilers Inc", "Bletchley Labs", "Pipes Ltd")
THANK_YOU_PATH = "/thank-you"
# Elements without an end tag, which must never wait on the stack for one.
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
    | {"source", "track", "wbr"}
)


@dataclass(frozen=True)
class Outcome:
    """What the web answered to one sign-up."""

    email: str
    status: int
    accepted: bool
    seconds: float
    messages: tuple[str, ...] = ()


@dataclass
class Summary:
    """What happened to a run of sign-ups."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(outcome.accepted for outcome in self.outcomes)

    def latency_percentile(self, fraction: float) -> float:
        """Return the latency under which the given fraction of sign-ups finished."""
        times = sorted(outcome.seconds for outcome in self.outcomes)
        if not times:
            return 0.0
        return times[min(len(times) - 1, int(fraction * len(times)))]


class _FormReader(HTMLParser):
    """Collect a page's hidden inputs, field errors, alerts and main heading."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.errors: list[str] = []
        self.alerts: list[str] = []
        self.headings: list[str] = []
        # The open elements, each with the list its text goes to, if any.
        self._open: list[tuple[str, list[str] | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.hidden[values["name"]] = values.get("value", "")
        if tag in _VOID_ELEMENTS:
            return
        collector = self._collector(tag, values)
        self._open.append((tag, self._current() if collector is None else collector))

    def handle_endtag(self, tag: str) -> None:
        # An end tag also closes what was left open inside its element.
        if any(name == tag for name, _ in self._open):
            while self._open.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        collector = self._current()
        if collector is not None and data.strip():
            collector.append(data.strip())

    def _collector(self, tag: str, attrs: dict[str, str]) -> list[str] | None:
        if "error" in attrs.get("class", "").split():
            return self.errors
        if attrs.get("role") == "alert":
            return self.alerts
        if tag == "h1":
            return self.headings
        return None

    def _current(self) -> list[str] | None:
        return self._open[-1][1] if self._open else None

    def messages(self) -> tuple[str, ...]:
        """Return what the page says went wrong, the most precise first."""
        return tuple(self.errors or self.alerts or self.headings)


def generated_prospect(number: int) -> dict[str, str]:
    """Make up a plausible prospect with a unique email address."""
    pick = random.Random(number)
    return {
        "first_name": pick.choice(FIRST_NAMES),
        "last_name": pick.choice(LAST_NAMES),
        "company_name": pick.choice(COMPANIES),
        "email_address": f"prospect-{number}-{uuid.uuid4().hex[:8]}@example.com",
        "role_code": pick.choice([c for c in ROLES if c != NOT_TELLING]),
        "country_code": pick.choice([c for c in COUNTRIES if c != NOT_TELLING]),
    }


def sign_up(client: httpx.Client, app_url: str, prospect: dict[str, str]) -> Outcome:
    """Fill in and submit the sign-up form once."""
    started = time.perf_counter()
    form_url = app_url.rstrip("/") + "/signup"
    try:
        page = client.get(form_url)
        page.raise_for_status()
        reader = _FormReader()
        reader.feed(page.text)
        answer = client.post(form_url, data=reader.hidden | prospect)
    except httpx.HTTPError as exc:
        raise DwwxError(f"cannot reach the sign-up form at {form_url}: {exc}") from None
    seconds = time.perf_counter() - started
    # Only the thank-you page means taken: the web re-renders the form with 422
    # for invalid values and 503 when it could not save, and a 200 from any
    # other page (a wrong --url, say) is no sign-up either.
    accepted = answer.status_code == 200 and answer.url.path.endswith(THANK_YOU_PATH)
    return Outcome(
        email=prospect["email_address"],
        status=answer.status_code,
        accepted=accepted,
        seconds=seconds,
        messages=() if accepted else _refusal(answer),
    )


def _refusal(answer: httpx.Response) -> tuple[str, ...]:
    """Return what the page a refused sign-up ended on says went wrong."""
    if answer.status_code == 200:
        return (f"ended on {answer.url.path}, not on the thank-you page",)
    page = _FormReader()
    page.feed(answer.text)
    return page.messages()


def sign_up_many(
    app_url: str, prospects: Iterable[dict[str, str]], *, concurrency: int
) -> Summary:
    """Submit sign-ups from several simulated browsers at once."""
    prospects = list(prospects)
    summary = Summary()

    def one(prospect: dict[str, str]) -> Outcome:
        # Each browser has its own cookie jar, as the CSRF cookie requires.
        with httpx.Client(follow_redirects=True, timeout=30) as client:
            return sign_up(client, app_url, prospect)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        summary.outcomes = list(pool.map(one, prospects))
    summary.seconds = time.perf_counter() - started
    return summary
