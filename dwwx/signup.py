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
    """Collect a page's hidden inputs and the texts marked as field errors."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.errors: list[str] = []
        self._in_error = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.hidden[values["name"]] = values.get("value", "")
        if "error" in values.get("class", "").split() or self._in_error:
            self._in_error += 1

    def handle_endtag(self, tag: str) -> None:
        if self._in_error:
            self._in_error -= 1

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip():
            self.errors.append(data.strip())


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
    result = _FormReader()
    result.feed(answer.text)
    return Outcome(
        email=prospect["email_address"],
        status=answer.status_code,
        accepted=answer.status_code == 200,
        seconds=seconds,
        messages=tuple(result.errors),
    )


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
