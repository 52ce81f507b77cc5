"""Signed sign-up ids: a form keeps one id, so a resubmitted form is one sign-up.

The id becomes the event's ``event_id``, so JetStream's duplicate window and the
unique ``prospects.event_id`` both recognise a retry of the same form. Signing
it with the web's secret key means a client can only send back an id this web
issued, never one of its own making.
"""

import uuid

from itsdangerous import BadSignature, Signer

FIELD_NAME = "signup_id"


class SignupIds:
    """Issue and read the signed sign-up id a form carries in a hidden field."""

    def __init__(self, secret_key: str) -> None:
        self._signer = Signer(secret_key, salt="dwwx-signup-id")

    def issue(self, signup_id: uuid.UUID | None = None) -> str:
        """Return the field value for this id, or for a new one."""
        return self._signer.sign(str(signup_id or uuid.uuid4())).decode("ascii")

    def read(self, value: str | None) -> uuid.UUID | None:
        """Return the id a field value carries, or None unless we signed a UUID4."""
        if not value:
            return None
        try:
            signed = self._signer.unsign(value).decode("ascii")
            signup_id = uuid.UUID(signed)
        except (BadSignature, UnicodeDecodeError, ValueError):
            return None
        if signup_id.version != 4 or str(signup_id) != signed:
            return None
        return signup_id
