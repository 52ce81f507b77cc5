"""The homepage: one landing page and its assets, shipped inside the package."""

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import Field

from src_apps.shared.logs import configure_logging
from src_apps.shared.serving import serve
from src_apps.shared.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)

# Beside the module, so the page is found from a wheel as well as a checkout.
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


class HomepageSettings(ServiceSettings):
    """Everything the homepage reads from the environment."""

    signup_url: str = Field("/app/", min_length=1)


def create_app(settings: HomepageSettings) -> FastAPI:
    """Build the homepage application for these settings."""
    app = FastAPI(title="Homepage", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def landing_page(request: Request) -> HTMLResponse:
        """Show the launch page with its call to sign up."""
        return templates.TemplateResponse(
            request, "index.html", {"signup_url": settings.signup_url}
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Answer 200: the page has no dependencies to check."""
        return JSONResponse({"status": "ok", "checks": {}})

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def main() -> None:
    """Read the settings from the environment and serve the page on HOST:PORT."""
    settings = load_settings(HomepageSettings)
    configure_logging(settings.log_level)
    log.info("homepage links sign-ups to %s", settings.signup_url)
    serve(create_app(settings), settings)
