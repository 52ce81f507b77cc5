"""A batch is saved in one transaction, and one refused row holds no other back."""

import pytest

from src_apps.save_handler import store
from src_apps.shared import database
from src_apps.shared.model import Prospect
from tests.prospects import prospect
from tests.test_save_handler_support import new_event


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest):
    engine = database.make_engine(request.getfixturevalue(f"{request.param}_url"))
    database.prepare_database(engine)
    yield engine
    engine.dispose()


def test_batch_saves_new_events_once(engine):
    earlier, fresh = new_event(), new_event(first_name="Grace")
    store.save_batch(engine, [earlier])

    outcome = store.save_batch(engine, [fresh, earlier, fresh])

    assert list(outcome.saved) == [0, 1, 2]
    assert outcome.saved[0] is not None
    assert outcome.saved[1] is None  # saved by the earlier batch
    assert outcome.saved[2] is None  # the same event, earlier in this batch
    assert (outcome.rejected, outcome.retry) == ({}, {})


def test_refused_row_is_rejected_and_the_rest_saved(engine):
    # A role the reference data lacks gets past a handler with stale codes only.
    refused = new_event(role_code="ZZ")
    good = [new_event(first_name="Before"), new_event(first_name="After")]

    outcome = store.save_batch(engine, [good[0], refused, good[1]])

    assert sorted(outcome.saved) == [0, 2]
    assert list(outcome.rejected) == [1]
    assert outcome.rejected[1].startswith("refused by the database: ")
    with engine.connect() as conn:
        names = [row["first_name"] for row in database.list_prospects(conn)]
    assert names == ["Before", "After"]


def test_padded_field_is_stored_as_checked(engine):
    padded = new_event(company_name="x" * 50 + "   ")
    codes = store.load_codes(engine)

    checked, problems = store.check(padded, codes)
    assert checked is not None and problems == {}
    outcome = store.save_batch(engine, [checked])

    assert list(outcome.saved) == [0]
    with engine.connect() as conn:
        [row] = database.list_prospects(conn)
    assert row["company_name"] == "x" * 50


def test_value_its_column_cannot_hold_is_rejected_not_retried(postgres_url):
    """PostgreSQL refuses a value too long for its column: a refusal, not a retry."""
    engine = database.make_engine(postgres_url)
    database.prepare_database(engine)
    # Past the checks only by a bug; the database must still not loop on it.
    fields = prospect().model_dump() | {"company_name": "x" * 51}
    too_long = new_event().model_copy(update={"prospect": Prospect(**fields)})
    good = new_event(first_name="Good")

    outcome = store.save_batch(engine, [too_long, good])
    engine.dispose()

    assert list(outcome.saved) == [1]
    assert list(outcome.rejected) == [0]
    assert outcome.retry == {}
    assert "value too long" in outcome.rejected[0]
