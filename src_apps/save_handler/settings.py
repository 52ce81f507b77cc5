"""The save handler's settings, read from the environment."""

import os
import secrets
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from src_apps.shared.settings import DatabaseSettings, QueueSettings


def default_handler_name() -> str:
    """Name a copy of the handler by its host and process, unique in a deployment.

    In a container the handler is process 1, and with host networking every
    copy has the host's name too, so there a random tag tells the copies apart.
    """
    pid = os.getpid()
    tag = str(pid) if pid != 1 else secrets.token_hex(3)
    return f"{socket.gethostname()}-{tag}"


class HandlerSettings(DatabaseSettings, QueueSettings):
    """Where the handler reads from and writes to, and how hard it tries."""

    batch_size: int = Field(50, ge=1, le=1000)
    fetch_timeout: float = Field(1.0, gt=0, le=60)
    nak_delay_base: float = Field(1.0, gt=0)
    nak_delay_max: float = Field(30.0, gt=0)
    # How long the server waits for an ack before it redelivers to another copy.
    ack_wait: float = Field(30.0, gt=0)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    # Loopback unless asked: a container sets 0.0.0.0 so Prometheus can reach it.
    metrics_host: str = "127.0.0.1"
    health_file: Path | None = None
    handler_name: str = Field(default_factory=default_handler_name, min_length=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("nak_delay_max")
    @classmethod
    def _max_not_below_base(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("nak_delay_base")
        if base is not None and value < base:
            raise ValueError(f"must be at least NAK_DELAY_BASE ({base})")
        return value

    def nak_delay(self, num_delivered: int) -> float:
        """Return the redelivery delay for a message delivered that many times."""
        exponent = max(num_delivered - 1, 0)
        # Cap the exponent too, so a message redelivered for days cannot overflow.
        return min(self.nak_delay_base * 2 ** min(exponent, 32), self.nak_delay_max)
