"""Serve an HTTP app on its HOST:PORT, logging like every other service."""

import uvicorn
from starlette.types import ASGIApp

from src_apps.shared.settings import ServiceSettings


def serve(app: ASGIApp, settings: ServiceSettings) -> None:
    """Run the app under uvicorn until SIGTERM or SIGINT."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
    )
