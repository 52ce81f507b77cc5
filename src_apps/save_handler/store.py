"""The handler's side of the database: reference codes and batch saves."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, IntegrityError

from src_apps.shared.database import (
    TRANSIENT_ERRORS,
    countries,
    insert_prospects,
    roles,
)
from src_apps.shared.messages import ProspectSignedUp
from src_apps.shared.model import check_prospect

log = logging.getLogger(__name__)

# What a database refuses for the row itself (a constraint, a value its column
# cannot hold): retrying the same row can never succeed.
REFUSALS = (IntegrityError, DataError)


@dataclass
class ReferenceCodes:
    """The role and country codes a prospect may carry."""

    roles: set[str]
    countries: set[str]


def load_codes(engine: Engine) -> ReferenceCodes:
    """Read the role and country codes from the database."""
    with engine.connect() as conn:
        role_codes = set(conn.scalars(select(roles.c.code)))
        country_codes = set(conn.scalars(select(countries.c.code)))
    return ReferenceCodes(roles=role_codes, countries=country_codes)


def check(
    event: ProspectSignedUp, codes: ReferenceCodes
) -> tuple[ProspectSignedUp | None, dict[str, str]]:
    """Return the event as it will be stored, or None and the problems by field."""
    prospect, errors = check_prospect(
        event.prospect.model_dump(), roles=codes.roles, countries=codes.countries
    )
    if prospect is None:
        return None, errors
    # The checked prospect is what was measured: stored as sent, padding could
    # push a field past its column.
    return event.model_copy(update={"prospect": prospect}), {}


def unknown_code(problems: dict[str, str]) -> bool:
    """Say whether a problem is a code the reference data may have gained since."""
    return "role_code" in problems or "country_code" in problems


def describe(problems: dict[str, str]) -> str | None:
    """Put the problems of a prospect in one line, or None when there are none."""
    if not problems:
        return None
    return "invalid prospect: " + "; ".join(
        f"{name}: {message}" for name, message in sorted(problems.items())
    )


@dataclass
class SaveOutcome:
    """What became of each event of a batch, by position in the batch."""

    saved: dict[int, int | None] = field(default_factory=dict)  # new id, or None
    rejected: dict[int, str] = field(default_factory=dict)  # reason, never retried
    retry: dict[int, str] = field(default_factory=dict)  # reason, retried later


def save_batch(engine: Engine, events: Sequence[ProspectSignedUp]) -> SaveOutcome:
    """Save events in one transaction, or one by one when one of them is refused."""
    outcome = SaveOutcome()
    try:
        with engine.begin() as conn:
            new_ids = insert_prospects(conn, events)
    except REFUSALS as exc:
        # A row no retry can make acceptable; find the culprit without holding
        # the innocent events of the batch back.
        log.warning("batch refused (%s); saving one by one", first_line(exc))
        return save_one_by_one(engine, events)
    except TRANSIENT_ERRORS as exc:
        reason = first_line(exc)
        outcome.retry = dict.fromkeys(range(len(events)), reason)
        return outcome

    for index, event in enumerate(events):
        # pop: a duplicate later in the batch was not saved a second time.
        outcome.saved[index] = new_ids.pop(str(event.event_id), None)
    return outcome


def save_one_by_one(engine: Engine, events: Sequence[ProspectSignedUp]) -> SaveOutcome:
    """Save each event in its own transaction, sorting refusals from retries."""
    outcome = SaveOutcome()
    for index, event in enumerate(events):
        try:
            with engine.begin() as conn:
                new_ids = insert_prospects(conn, [event])
        except REFUSALS as exc:
            outcome.rejected[index] = f"refused by the database: {first_line(exc)}"
        except TRANSIENT_ERRORS as exc:
            outcome.retry[index] = first_line(exc)
        else:
            outcome.saved[index] = new_ids.pop(str(event.event_id), None)
    return outcome


def first_line(exc: BaseException) -> str:
    """Return the first line of an error, which is where drivers put the reason."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
