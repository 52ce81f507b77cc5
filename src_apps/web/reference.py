"""Roles and countries for the form, from the database or the reference-data API."""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from src_apps.shared.database import load_reference_data
from src_apps.shared.stopping import StoppedError

log = logging.getLogger(__name__)

Choices = list[tuple[str, str]]


class ReferenceDataError(RuntimeError):
    """The reference data could not be loaded, so the form cannot be shown."""


@dataclass(frozen=True)
class ReferenceData:
    """The choices the form offers, each as (code, name) in display order."""

    roles: Choices
    countries: Choices

    @property
    def role_codes(self) -> set[str]:
        """Return the codes a valid sign-up may name as its role."""
        return {code for code, _ in self.roles}

    @property
    def country_codes(self) -> set[str]:
        """Return the codes a valid sign-up may name as its country."""
        return {code for code, _ in self.countries}


def load_from_database(engine: Engine) -> ReferenceData:
    """Read roles and countries from the sign-up database."""
    with engine.connect() as conn:
        roles, countries = load_reference_data(conn)
    log.info(
        "reference data loaded from the database: %d roles, %d countries",
        len(roles),
        len(countries),
    )
    return ReferenceData(roles=roles, countries=countries)


async def load_from_api(
    base_url: str, *, wait_seconds: float, stop: threading.Event | None = None
) -> ReferenceData:
    """Fetch roles and countries from the API, retrying while it starts up."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + wait_seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        while True:
            try:
                data = await _fetch(client)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                if time.monotonic() >= deadline:
                    # The message carries the cause; its traceback adds only noise.
                    raise ReferenceDataError(
                        f"reference-data API at {base_url} did not answer within "
                        f"{wait_seconds:g}s: {_describe(exc)}"
                    ) from None
                log.info(
                    "reference-data API at %s not up yet (%s); retrying",
                    base_url,
                    _describe(exc),
                )
                if await asyncio.to_thread(stop.wait, 1):
                    raise StoppedError(
                        "asked to stop while waiting for the reference-data API"
                    ) from None
                continue
            log.info(
                "reference data loaded from %s: %d roles, %d countries",
                base_url,
                len(data.roles),
                len(data.countries),
            )
            return data


async def _fetch(client: httpx.AsyncClient) -> ReferenceData:
    roles = await _fetch_choices(client, "/api/roles")
    countries = await _fetch_choices(client, "/api/countries")
    return ReferenceData(roles=roles, countries=countries)


async def _fetch_choices(client: httpx.AsyncClient, path: str) -> Choices:
    response = await client.get(path)
    response.raise_for_status()
    items = response.json()
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path} returned no list of choices")
    return [(str(item["code"]), str(item["name"])) for item in items]


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
