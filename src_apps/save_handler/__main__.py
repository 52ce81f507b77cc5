"""Run the save handler: `python -m src_apps.save_handler`."""

import asyncio
import logging
import signal
import sys

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError

from src_apps.save_handler.handler import SaveHandler
from src_apps.save_handler.metrics import Metrics
from src_apps.save_handler.settings import HandlerSettings
from src_apps.shared.database import make_engine
from src_apps.shared.settings import load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s [{name}] %(name)s: %(message)s"


def configure_logging(settings: HandlerSettings) -> None:
    """Log one line per event, each naming this copy of the handler."""
    line = LOG_FORMAT.replace("{name}", settings.handler_name.replace("%", "%%"))
    logging.basicConfig(level=settings.log_level.upper(), format=line, force=True)


def open_database(settings: HandlerSettings) -> Engine:
    """Make the engine, or exit with one line when the URL cannot work."""
    password = settings.database_password
    try:
        return make_engine(
            settings.database_url,
            password=password.get_secret_value() if password else None,
        )
    except (ArgumentError, ModuleNotFoundError) as exc:
        # The URL itself is kept out: it may carry a password after all.
        print(f"invalid setting DATABASE_URL: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def serve(settings: HandlerSettings, engine: Engine) -> None:
    """Run one copy of the handler until SIGTERM or SIGINT."""
    metrics = Metrics()
    if settings.metrics_port is not None:
        metrics.serve(host=settings.metrics_host, port=settings.metrics_port)

    handler = SaveHandler(settings, engine, metrics)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, handler.stop)
    try:
        await handler.run()
    finally:
        engine.dispose()
    logging.getLogger(__name__).info("Save handler stopped")


def main() -> None:
    """Read the settings and run the handler; exit 0 after a clean stop."""
    settings = load_settings(HandlerSettings)
    configure_logging(settings)
    engine = open_database(settings)
    asyncio.run(serve(settings, engine))


if __name__ == "__main__":
    main()
