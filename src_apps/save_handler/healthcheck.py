"""Exit 0 when the save handler's loop turned recently: a container health check."""

import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from src_apps.save_handler.health import staleness
from src_apps.shared.settings import load_settings


class HealthSettings(BaseSettings):
    """The file the handler touches, and how old it may get."""

    model_config = SettingsConfigDict(extra="ignore")

    health_file: Path
    # Longer than a fetch plus a slow batch save, so a busy handler passes.
    health_max_age: float = Field(60.0, gt=0)


def main() -> None:
    """Check the health file and exit with the verdict."""
    settings = load_settings(HealthSettings)
    reason = staleness(settings.health_file, max_age=settings.health_max_age)
    if reason:
        print(f"unhealthy: {reason}", file=sys.stderr)
        raise SystemExit(1)
    print("healthy")


if __name__ == "__main__":
    main()
