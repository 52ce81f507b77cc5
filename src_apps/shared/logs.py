"""Logging for the services: one line per event, with a timestamp and logger name."""

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send every logger, uvicorn's included, to stderr in one line format."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
