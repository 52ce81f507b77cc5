"""The database layer: idempotent schema, seeded reference data, idempotent inserts."""

import pytest

from src_apps.shared import database
from src_apps.shared.messages import ProspectSignedUp
from tests.prospects import prospect

ADA = prospect()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest):
    url = request.getfixturevalue(f"{request.param}_url")
    engine = database.make_engine(url)
    yield engine
    engine.dispose()


def test_prepare_twice_seeds_reference_data_once(engine):
    database.prepare_database(engine)
    database.prepare_database(engine)

    with engine.connect() as conn:
        roles, countries = database.load_reference_data(conn)

    assert roles[0] == ("-", "--Not telling")
    assert [code for code, _ in roles] == ["-", "AC", "DM", "DA", "EN", "OP"]
    assert len(countries) == 14
    assert countries[1] == ("BGM", "Belgium")


def test_redelivered_event_makes_no_second_row(engine):
    database.prepare_database(engine)
    event = ProspectSignedUp.new(ADA)

    with engine.begin() as conn:
        first = database.insert_prospects(conn, [event, event])
    with engine.begin() as conn:
        again = database.insert_prospects(conn, [event])
        rows = database.list_prospects(conn)

    assert list(first) == [str(event.event_id)]
    assert again == {}
    assert [row["email_address"] for row in rows] == ["ada@example.com"]


def test_workshop_query_works_with_its_capitalised_table_name(engine):
    from sqlalchemy import text

    database.prepare_database(engine)
    with engine.begin() as conn:
        database.insert_prospects(conn, [ProspectSignedUp.new(ADA)])
        rows = conn.execute(text("SELECT * FROM Prospects")).all()

    assert len(rows) == 1


def test_a_password_in_the_url_wins_over_the_generated_one():
    engine = database.make_engine(
        "postgresql+psycopg://app:own@127.0.0.1:5432/signup", password="generated"
    )

    assert engine.url.password == "own"


def test_the_generated_password_fills_a_url_without_one():
    engine = database.make_engine(
        "postgresql+psycopg://app@127.0.0.1:5432/signup", password="generated"
    )

    assert engine.url.password == "generated"
