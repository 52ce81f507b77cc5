"""The per-project state folder: what runs, its secrets, data and logs."""

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dwwx.errors import DwwxError

MARKER = "dwwx-state.json"
SECRETS_FILE = "secrets.env"
FORMAT = 1


@dataclass
class Record:
    """What dwwx last brought up in this folder."""

    runtime: str
    version: str
    port: int
    database_engine: str
    scale: dict[str, int] = field(default_factory=dict)
    format: int = FORMAT


@dataclass(frozen=True)
class KeptData:
    """The runtime and database engine whose data the folder keeps after a down."""

    runtime: str
    database_engine: str


class StateDir:
    """A folder holding one project's record, secrets, data and logs."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().absolute()

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def run(self) -> Path:
        return self.path / "run"

    @property
    def secrets_file(self) -> Path:
        return self.path / SECRETS_FILE

    def create(self) -> None:
        """Create the folder, or check that an existing one is dwwx's."""
        self.check()
        for folder in (self.path, self.data, self.logs, self.run):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not (self.path / MARKER).exists():
            self._write_marker(None, None)
        self._ensure_secrets()

    def check(self) -> None:
        """Raise when the folder is unreadable or belongs to something else."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise DwwxError(
                f"state folder {self.path} is a file; pass --state-dir to a folder"
            )
        try:
            entries = list(self.path.iterdir())
        except PermissionError:
            raise DwwxError(
                f"cannot read state folder {self.path}; fix its permissions "
                "or pass --state-dir"
            ) from None
        if entries and not (self.path / MARKER).exists():
            raise DwwxError(
                f"{self.path} is not a dwwx state folder (no {MARKER}); "
                "pass --state-dir to an empty or dwwx folder"
            )

    def load(self) -> Record | None:
        """Return what was brought up here, or None when nothing was."""
        running = self._body().get("running")
        return Record(**running) if running else None

    def kept_data(self) -> KeptData | None:
        """Return which runtime and engine hold this folder's data after a down."""
        kept = self._body().get("kept")
        return KeptData(**kept) if kept else None

    def save(self, record: Record | None) -> None:
        """Remember what runs now (None: nothing); the kept data stays noted."""
        self._write_marker(record, self.kept_data())

    def keep_data(self, kept: KeptData | None) -> None:
        """Note the runtime and engine whose data a down leaves (None: deleted)."""
        self._write_marker(self.load(), kept)

    def _body(self) -> dict[str, Any]:
        self.check()
        marker = self.path / MARKER
        if not marker.exists():
            return {}
        try:
            body = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DwwxError(f"cannot read {marker}: {exc}; remove the folder") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise DwwxError(f"{marker} was written by another dwwx; remove the folder")
        return body

    def _write_marker(self, record: Record | None, kept: KeptData | None) -> None:
        body = {
            "format": FORMAT,
            "running": asdict(record) if record else None,
            "kept": asdict(kept) if kept else None,
        }
        marker = self.path / MARKER
        marker.write_text(json.dumps(body, indent=2) + "\n")

    def _ensure_secrets(self) -> None:
        if self.secrets_file.exists():
            return
        password = secrets.token_urlsafe(24)
        values = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "NATS_USER": "dwwx",
            # nats-server parses an $ENV value as config: a leading digit or
            # "-" makes it a number, so the password must start with a letter.
            "NATS_PASSWORD": "nats" + secrets.token_hex(24),
            "DATABASE_PASSWORD": password,
            "POSTGRES_PASSWORD": password,
            "MSSQL_SA_PASSWORD": "Dw1-" + secrets.token_urlsafe(18),
        }
        text = "".join(f"{key}={value}\n" for key, value in values.items())
        # Created private from the first byte, so no other user ever reads it.
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    def secrets(self) -> dict[str, str]:
        """Return the generated secrets."""
        return read_env_file(self.secrets_file)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines, ignoring blanks and comments."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values
