"""Typed settings read from the environment, with errors that name the variable."""

import sys
from typing import Literal, TypeVar, get_args

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)


class DatabaseSettings(BaseSettings):
    """Where the sign-up database is."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(
        "sqlite:///signup.db",
        description="SQLAlchemy URL without the password",
    )
    database_password: SecretStr | None = None


class QueueSettings(BaseSettings):
    """Where the message queue is."""

    model_config = SettingsConfigDict(extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_connect_timeout: float = Field(5.0, gt=0)


class ServiceSettings(BaseSettings):
    """What every HTTP service needs to listen."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8020, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def load_settings(cls: type[S]) -> S:
    """Read settings, or exit with one line per bad variable."""
    try:
        return cls()
    except ValidationError as exc:
        for err in exc.errors():
            name = "_".join(str(part) for part in err["loc"]).upper()
            given = err.get("input")
            shown = "<missing>" if err["type"] == "missing" else repr(given)
            if err["type"] != "missing" and _is_secret(cls, err["loc"]):
                shown = "<hidden>"
            print(f"invalid setting {name}={shown}: {err['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _is_secret(cls: type[BaseSettings], loc: tuple[int | str, ...]) -> bool:
    """Say whether a bad value belongs to a secret field, so it is never printed."""
    field = cls.model_fields.get(str(loc[0])) if loc else None
    if field is None:
        return False
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)
