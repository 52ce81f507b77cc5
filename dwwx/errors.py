"""The one error type for what can go wrong in normal use."""


class DwwxError(Exception):
    """A failure the user can fix; the CLI shows it as one red line."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
