"""The sign-up database: schema, reference data and the prospect writes."""

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Insert,
    Integer,
    MetaData,
    String,
    Table,
    Unicode,
    create_engine,
    event,
    exists,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from src_apps.shared.messages import ProspectSignedUp
from src_apps.shared.model import FIELD_LIMITS
from src_apps.shared.reference import COUNTRIES, ROLES, display_order
from src_apps.shared.stopping import StoppedError

log = logging.getLogger(__name__)

metadata = MetaData()

roles = Table(
    "roles",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("name", String(50), nullable=False),
)

countries = Table(
    "countries",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("name", String(50), nullable=False),
)

prospects = Table(
    "prospects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    # Unicode: NVARCHAR on SQL Server, whose VARCHAR keeps only one code page;
    # plain VARCHAR on SQLite and PostgreSQL, which store UTF-8 anyway.
    Column("first_name", Unicode(FIELD_LIMITS["first_name"]), nullable=False),
    Column("last_name", Unicode(FIELD_LIMITS["last_name"]), nullable=False),
    Column("company_name", Unicode(FIELD_LIMITS["company_name"]), nullable=False),
    Column("email_address", Unicode(FIELD_LIMITS["email_address"]), nullable=False),
    Column("role_code", String(3), ForeignKey("roles.code"), nullable=False),
    Column("country_code", String(3), ForeignKey("countries.code"), nullable=False),
    Column("signed_up_at", DateTime(timezone=True), nullable=False),
)

# Errors a retry can cure: the server is away, restarting or locked.
TRANSIENT_ERRORS = (OperationalError, DBAPIError)


def make_engine(url: str, *, password: str | None = None) -> Engine:
    """Create an engine for a database URL, with the password kept out of the URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    if password and not parsed.password:
        parsed = parsed.set(password=password)
    return create_engine(parsed, pool_pre_ping=True)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def prepare_database(
    engine: Engine,
    *,
    wait_seconds: float = 60.0,
    stop: threading.Event | None = None,
) -> None:
    """Create the tables and seed reference data; safe to run from every service.

    Raises StoppedError when stop is set while it waits for the database.
    """
    stop = stop or threading.Event()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            _create_and_seed(engine)
            return
        except (OperationalError, IntegrityError) as exc:
            # Another service may be creating the same tables, or the server is
            # still starting: both pass within seconds.
            if time.monotonic() > deadline:
                raise
            log.info("database not ready yet (%s); retrying", _first_line(exc))
            if stop.wait(1):
                raise StoppedError(
                    "asked to stop while waiting for the database"
                ) from None


def _create_and_seed(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        for table, rows in ((roles, ROLES), (countries, COUNTRIES)):
            known = set(conn.scalars(select(table.c.code)))
            missing = [
                {"code": code, "name": name}
                for code, name in rows.items()
                if code not in known
            ]
            if missing:
                conn.execute(insert(table), missing)


def load_reference_data(
    conn: Connection,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return roles and countries as (code, name) pairs in display order."""
    role_rows = dict(conn.execute(select(roles.c.code, roles.c.name)).all())
    country_rows = dict(conn.execute(select(countries.c.code, countries.c.name)).all())
    return display_order(role_rows), display_order(country_rows)


def insert_prospects(
    conn: Connection, events: Sequence[ProspectSignedUp]
) -> dict[str, int]:
    """Insert prospects, skipping event ids already stored; return new ids by event."""
    if not events:
        return {}
    rows = [_row(ev) for ev in events]
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module = sqlite if dialect == "sqlite" else postgresql
        statement = (
            module.insert(prospects)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(prospects.c.event_id, prospects.c.id)
        )
        result = conn.execute(statement, rows)
        return {row.event_id: row.id for row in result}
    return _insert_if_absent(conn, rows)


def _insert_if_absent(
    conn: Connection, rows: Iterable[dict[str, Any]]
) -> dict[str, int]:
    """Insert row by row where the event id is new (dialects without upsert)."""
    inserted: dict[str, int] = {}
    for row in rows:
        if conn.execute(insert_if_absent_statement(row)).rowcount:
            new_id = conn.scalar(
                select(prospects.c.id).where(prospects.c.event_id == row["event_id"])
            )
            inserted[row["event_id"]] = int(new_id)
    return inserted


def insert_if_absent_statement(row: Mapping[str, Any]) -> Insert:
    """Build INSERT ... SELECT ... WHERE NOT EXISTS for one prospect row."""
    # Each literal takes its column's type, so the dialect binds it as the
    # column expects (NVARCHAR, DATETIMEOFFSET) rather than guessing from Python.
    values = [literal(value, prospects.c[name].type) for name, value in row.items()]
    already_stored = exists().where(prospects.c.event_id == row["event_id"])
    return insert(prospects).from_select(
        list(row), select(*values).where(~already_stored)
    )


def _row(ev: ProspectSignedUp) -> dict[str, Any]:
    return {"event_id": str(ev.event_id), "signed_up_at": ev.signed_up_at} | (
        ev.prospect.model_dump()
    )


def list_prospects(conn: Connection) -> list[dict[str, Any]]:
    """Return every prospect, oldest first, as plain dictionaries."""
    result = conn.execute(select(prospects).order_by(prospects.c.id))
    return [dict(row) for row in result.mappings()]


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
