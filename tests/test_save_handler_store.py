"""A batch is saved in one transaction, and one refused row holds no other back."""

import pytest

from src_apps.save_handler import store
from src_apps.shared import database
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
