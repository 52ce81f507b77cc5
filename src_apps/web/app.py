"""The sign-up web application: pages, form handling, health and start-up."""

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from src_apps.shared.database import make_engine, prepare_database
from src_apps.shared.logs import configure_logging
from src_apps.shared.messages import ProspectSignedUp
from src_apps.shared.model import (
    FIELD_LABELS,
    FIELD_LIMITS,
    check_prospect,
)
from src_apps.shared.serving import serve
from src_apps.shared.settings import load_settings
from src_apps.shared.stopping import stop_requested
from src_apps.web import csrf, signup_ids
from src_apps.web.reference import (
    ReferenceData,
    ReferenceDataError,
    load_from_api,
    load_from_database,
)
from src_apps.web.saving import (
    DatabaseSaver,
    QueuePublisher,
    SaveUnavailableError,
    database_answers,
)
from src_apps.web.settings import WebSettings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

INVALID_STATUS = 422
UNAVAILABLE_MESSAGE = "We could not take your sign-up just now. Please try again."


@dataclass
class WebState:
    """What the pages need: settings, and the dependencies made at start-up."""

    settings: WebSettings
    csrf: csrf.CsrfTokens
    signup_ids: signup_ids.SignupIds
    engine: Engine | None = None
    reference: ReferenceData | None = None
    saver: DatabaseSaver | None = None
    publisher: QueuePublisher | None = None

    @property
    def root(self) -> str:
        """Return the path prefix every route, link and redirect starts with."""
        return self.settings.root_path


async def start(state: WebState) -> None:
    """Open what this combination of settings needs, and load the reference data."""
    settings = state.settings
    stop = stop_requested()
    if settings.needs_database:
        password = settings.database_password
        state.engine = make_engine(
            settings.database_url,
            password=password.get_secret_value() if password else None,
        )
        await run_in_threadpool(prepare_database, state.engine, stop=stop)

    if settings.reference_data_source == "api":
        try:
            state.reference = await load_from_api(
                settings.reference_data_api_url,
                wait_seconds=settings.reference_data_wait,
                stop=stop,
            )
        except ReferenceDataError as exc:
            log.error("cannot start the sign-up web: %s", exc)
            raise
    else:
        assert state.engine is not None
        state.reference = await run_in_threadpool(load_from_database, state.engine)

    if settings.save_mode == "async":
        state.publisher = QueuePublisher(settings, timeout=settings.publish_timeout)
        state.publisher.start()
    else:
        assert state.engine is not None
        state.saver = DatabaseSaver(state.engine)
    log.info(
        "sign-up web ready: save mode %s, reference data from %s, root path %r",
        settings.save_mode,
        settings.reference_data_source,
        state.root or "/",
    )


async def stop(state: WebState) -> None:
    """Close the queue connection and the database pool."""
    if state.publisher is not None:
        await state.publisher.stop()
    if state.engine is not None:
        state.engine.dispose()


def create_app(settings: WebSettings) -> FastAPI:
    """Build the web application for these settings."""
    state = WebState(
        settings=settings,
        csrf=csrf.CsrfTokens(settings.secret_key.get_secret_value()),
        signup_ids=signup_ids.SignupIds(settings.secret_key.get_secret_value()),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await start(state)
        try:
            yield
        finally:
            await stop(state)

    app = FastAPI(
        title="Sign-up web",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = state
    root = settings.root_path
    app.include_router(router, prefix=root)
    app.mount(f"{root}/static", StaticFiles(directory=HERE / "static"), name="static")
    if root:
        app.add_api_route(root, _to_root_with_slash, include_in_schema=False)
    return app


router = APIRouter()


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


async def _to_root_with_slash(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_state(request).root}/", status_code=308)


def render(
    request: Request, name: str, *, status_code: int = 200, **context: Any
) -> Response:
    """Render a page template with the root path every link starts with."""
    context.setdefault("root", _state(request).root)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def render_form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    signup_id: uuid.UUID | None = None,
    status_code: int = 200,
) -> Response:
    """Render the sign-up form with its sign-up id and a CSRF token."""
    state = _state(request)
    token = request.cookies.get(csrf.COOKIE_NAME)
    if not state.csrf.is_valid(token):
        token = state.csrf.issue()
    reference = state.reference
    assert reference is not None
    response = render(
        request,
        "signup.html",
        status_code=status_code,
        values=values or {},
        errors=errors or {},
        notice=notice,
        roles=reference.roles,
        countries=reference.countries,
        labels=FIELD_LABELS,
        limits=FIELD_LIMITS,
        csrf_field=csrf.FIELD_NAME,
        csrf_token=token,
        signup_id_field=signup_ids.FIELD_NAME,
        signup_id=state.signup_ids.issue(signup_id),
    )
    # A form restored from the cache would carry the id of a sign-up already
    # made, and a new sign-up from it would be taken for a retry of that one.
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        csrf.COOKIE_NAME,
        token,
        max_age=csrf.MAX_AGE_SECONDS,
        path=state.root or "/",
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/")
async def home(request: Request) -> Response:
    """Show the home page with its call to sign up."""
    return render(request, "home.html")


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    """Show an empty sign-up form."""
    return render_form(request)


@router.post("/signup")
async def signup(request: Request) -> Response:
    """Check a sign-up, then save or publish it and redirect to the thanks."""
    state = _state(request)
    form = await request.form()
    values = {name: _text(form.get(name)) for name in FIELD_LABELS}

    given = _text(form.get(csrf.FIELD_NAME)) or None
    if not state.csrf.matches(cookie=request.cookies.get(csrf.COOKIE_NAME), form=given):
        log.warning("sign-up refused: missing or invalid CSRF token")
        return render(request, "forbidden.html", status_code=403)

    reference = state.reference
    assert reference is not None
    signup_id = _signup_id(state, _text(form.get(signup_ids.FIELD_NAME)))
    prospect, errors = check_prospect(
        values, roles=reference.role_codes, countries=reference.country_codes
    )
    if prospect is None:
        return render_form(
            request,
            values=values,
            errors=errors,
            signup_id=signup_id,
            status_code=INVALID_STATUS,
        )

    event = ProspectSignedUp.new(prospect, event_id=signup_id)
    try:
        if state.publisher is not None:
            await state.publisher.publish(event)
        else:
            assert state.saver is not None
            await run_in_threadpool(state.saver.save, event)
    except SaveUnavailableError as exc:
        log.warning("sign-up not taken: %s", exc)
        return render_form(
            request,
            values=values,
            notice=UNAVAILABLE_MESSAGE,
            signup_id=signup_id,
            status_code=503,
        )
    return RedirectResponse(f"{state.root}/thank-you", status_code=303)


@router.get("/thank-you")
async def thank_you(request: Request) -> Response:
    """Thank the prospect for signing up."""
    return render(request, "thank_you.html")


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Report each dependency in use; 200 when all answer, else 503."""
    state = _state(request)
    checks: dict[str, str] = {}
    if state.engine is not None:
        try:
            await run_in_threadpool(database_answers, state.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"failing: {type(exc).__name__}"
    if state.settings.save_mode == "async":
        connected = state.publisher is not None and state.publisher.connected
        checks["queue"] = "ok" if connected else "failing: not connected"
    checks["reference_data"] = "ok" if state.reference else "failing: not loaded"

    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "failing", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _signup_id(state: WebState, value: str) -> uuid.UUID:
    """Return the form's signed sign-up id, or a new one when it has none."""
    signup_id = state.signup_ids.read(value)
    if signup_id is not None:
        return signup_id
    if value:
        log.warning("sign-up id not issued by this web; the sign-up gets a new one")
    # Forms rendered before sign-up ids existed carry none: they still work,
    # only without protection against a retry making a second sign-up.
    return uuid.uuid4()


def main() -> None:
    """Read the settings from the environment and serve the web on HOST:PORT."""
    settings = load_settings(WebSettings)
    configure_logging(settings.log_level)
    serve(create_app(settings), settings)
