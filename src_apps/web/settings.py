"""Settings of the sign-up web application."""

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from src_apps.shared.settings import DatabaseSettings, QueueSettings, ServiceSettings

SECRET_KEY_MIN_LENGTH = 16


class WebSettings(DatabaseSettings, QueueSettings, ServiceSettings):
    """Everything the web reads from the environment."""

    save_mode: Literal["sync", "async"] = "sync"
    reference_data_source: Literal["db", "api"] = "db"
    reference_data_api_url: str = "http://127.0.0.1:8023"
    reference_data_wait: float = Field(60.0, ge=0)
    root_path: str = ""
    secret_key: SecretStr
    publish_timeout: float = Field(5.0, gt=0)

    @field_validator("root_path")
    @classmethod
    def _clean_root_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("must be empty or start with '/', like /app")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(
                f"must be at least {SECRET_KEY_MIN_LENGTH} characters; make one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @property
    def needs_database(self) -> bool:
        """Say whether this combination of switches touches the database at all."""
        return self.save_mode == "sync" or self.reference_data_source == "db"
