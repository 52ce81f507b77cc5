"""Find the data dwwx ships: manifest templates and Dockerfiles."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return a shipped data folder, from an installed wheel or from a clone."""
    # A wheel carries the folders inside the package; a clone keeps them at the
    # repository root, beside the package.
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"dwwx's {name}/ folder is missing from the install")
