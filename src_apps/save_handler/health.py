"""The heartbeat file the fetch loop touches, and the check that reads it."""

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def touch(path: Path) -> None:
    """Mark the loop as alive now; a failure to do so must not stop the loop."""
    try:
        path.touch()
    except OSError as exc:
        log.warning("cannot touch the health file %s: %s", path, exc)


def staleness(path: Path, *, max_age: float) -> str | None:
    """Say why the handler looks unhealthy, or None when the file is fresh."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"health file {path} does not exist yet"
    except OSError as exc:
        return f"cannot read health file {path}: {exc}"
    if age > max_age:
        return f"health file {path} is {age:.0f}s old, more than {max_age:g}s"
    return None
