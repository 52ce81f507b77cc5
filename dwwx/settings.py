"""dwwx's own settings: where state lives, which ports and images to use."""

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from dwwx.errors import DwwxError

RuntimeName = Literal["docker", "local"]
DatabaseEngine = Literal["sqlite", "postgres", "mssql"]


class Settings(BaseSettings):
    """Settings read from DWWX_* environment variables; CLI options override them."""

    model_config = SettingsConfigDict(env_prefix="DWWX_", extra="ignore")

    state_dir: Path = Field(Path(".dwwx"), description="per-project state folder")
    port: int = Field(8020, ge=1024, le=65000, description="the workshop's entry port")
    runtime: Literal["auto", "docker", "local"] = "auto"
    db: DatabaseEngine | None = Field(
        None, description="database engine; sqlite locally, postgres on docker"
    )
    database_url: str | None = Field(
        None, description="an existing database for the local runtime"
    )
    postgres_bin: Path | None = Field(
        None, description="PostgreSQL's bin folder, for --db postgres locally"
    )
    health_timeout: float = Field(90.0, gt=0, description="seconds to wait in up")

    image_tag: str = "latest"
    image_registry: str = Field("dwwx", description="prefix of dwwx's own images")
    postgres_image: str = "postgres:16"
    nats_image: str = "nats:2.10-alpine"
    mssql_image: str | None = Field(
        None, description="Microsoft's SQL Server for Linux image, for --db mssql"
    )
    python_base_image: str | None = Field(
        None, description="base of the app images; default the official slim Python"
    )
    caddy_base_image: str | None = Field(
        None, description="base of the reverse-proxy image; default the official Caddy"
    )
    build_network: str | None = Field(None, description="network for image builds")
    docker_network: Literal["bridge", "host"] = Field(
        "bridge", description="host: every service on 127.0.0.1 (for tests)"
    )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, then apply CLI overrides."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "DWWX_" + "_".join(str(part) for part in err["loc"]).upper()
        raise DwwxError(
            f"invalid setting {name}={err.get('input')!r}: {err['msg']}", exit_code=2
        ) from None
