"""The ProspectSignedUp event: its subject, its stream and its wire format."""

import json
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from src_apps.shared.model import Prospect

SUBJECT = "events.prospect.signedup"
DEAD_LETTER_SUBJECT = "events.prospect.signedup.dead"
STREAM = "SIGNUPS"
STREAM_SUBJECTS = ["events.prospect.>"]
SAVE_HANDLER_CONSUMER = "save-handler"
SCHEMA_VERSION = 1
MSG_ID_HEADER = "Nats-Msg-Id"
DEAD_REASON_HEADER = "Dwwx-Dead-Reason"


class PoisonMessageError(ValueError):
    """A message that no retry can make processable."""


class ProspectSignedUp(BaseModel):
    """The event the web publishes when a prospect signs up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    schema_version: int = SCHEMA_VERSION
    signed_up_at: datetime
    prospect: Prospect

    @field_validator("signed_up_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("signed_up_at must carry a time zone")
        return value.astimezone(UTC)

    @classmethod
    def new(
        cls, prospect: Prospect, *, event_id: uuid.UUID | None = None
    ) -> "ProspectSignedUp":
        """Make the event for a prospect who signs up now, with a new id if none."""
        return cls(
            event_id=event_id or uuid.uuid4(),
            signed_up_at=datetime.now(UTC),
            prospect=prospect,
        )

    def to_bytes(self) -> bytes:
        """Encode as the UTF-8 JSON of the event contract."""
        body = {
            "event_id": str(self.event_id),
            "schema": self.schema_version,
            "signed_up_at": self.signed_up_at.isoformat(),
            "prospect": self.prospect.model_dump(),
        }
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> "ProspectSignedUp":
        """Decode an event, raising PoisonMessageError when it can never be read."""
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PoisonMessageError(f"not UTF-8 JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise PoisonMessageError("not a JSON object")
        schema = body.pop("schema", None)
        if schema != SCHEMA_VERSION:
            raise PoisonMessageError(
                f"unsupported schema {schema!r}, expected {SCHEMA_VERSION}"
            )
        try:
            return cls(schema_version=schema, **body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()
            )
            raise PoisonMessageError(f"invalid event: {problems}") from exc
