"""The reference-data API: GET /api/roles and /api/countries from the database."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, Table, select, text
from starlette.concurrency import run_in_threadpool

from src_apps.shared.database import countries, make_engine, prepare_database, roles
from src_apps.shared.logs import configure_logging
from src_apps.shared.reference import display_order
from src_apps.shared.serving import serve
from src_apps.shared.settings import DatabaseSettings, ServiceSettings, load_settings
from src_apps.shared.stopping import stop_requested

log = logging.getLogger(__name__)


class ReferenceApiSettings(DatabaseSettings, ServiceSettings):
    """Everything the reference-data API reads from the environment."""

    port: int = Field(8023, ge=1, le=65535)


class ReferenceItem(BaseModel):
    """One choice of the sign-up form: a role or a country."""

    code: str = Field(examples=["GBR"])
    name: str = Field(examples=["United Kingdom"])


class Health(BaseModel):
    """Whether the API's one dependency, the database, answers."""

    status: str = Field(examples=["ok"])
    checks: dict[str, str] = Field(examples=[{"database": "ok"}])


def create_app(settings: ReferenceApiSettings) -> FastAPI:
    """Build the reference-data API for these settings."""
    password = settings.database_password
    engine = make_engine(
        settings.database_url,
        password=password.get_secret_value() if password else None,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(prepare_database, engine, stop=stop_requested())
        log.info("reference-data API ready on %s", engine.url.render_as_string())
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Reference-data API",
        summary="Roles and countries a prospect chooses from when signing up.",
        version="1",
        lifespan=lifespan,
    )
    app.state.engine = engine

    app.add_api_route(
        "/api/roles",
        list_roles,
        response_model=list[ReferenceItem],
        summary="List the roles, '--Not telling' first, then by name",
        tags=["reference data"],
    )
    app.add_api_route(
        "/api/countries",
        list_countries,
        response_model=list[ReferenceItem],
        summary="List the countries, '--Not telling' first, then by name",
        tags=["reference data"],
    )
    app.add_api_route(
        "/healthz",
        healthz,
        response_model=Health,
        responses={503: {"model": Health, "description": "The database is away"}},
        summary="Report whether the database answers",
        tags=["health"],
    )
    return app


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _choices(engine: Engine, table: Table) -> list[ReferenceItem]:
    with engine.connect() as conn:
        rows = dict(conn.execute(select(table.c.code, table.c.name)).all())
    return [ReferenceItem(code=code, name=name) for code, name in display_order(rows)]


def list_roles(request: Request) -> list[ReferenceItem]:
    """Return the roles in display order."""
    return _choices(_engine(request), roles)


def list_countries(request: Request) -> list[ReferenceItem]:
    """Return the countries in display order."""
    return _choices(_engine(request), countries)


def healthz(request: Request) -> JSONResponse:
    """Answer 200 when the database runs SELECT 1, else 503."""
    try:
        with _engine(request).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        body = Health(status="failing", checks={"database": type(exc).__name__})
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", checks={"database": "ok"}).model_dump())


def main() -> None:
    """Read the settings from the environment and serve the API on HOST:PORT."""
    settings = load_settings(ReferenceApiSettings)
    configure_logging(settings.log_level)
    serve(create_app(settings), settings)
