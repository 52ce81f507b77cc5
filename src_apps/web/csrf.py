"""Double-submit CSRF protection: one signed token in a cookie and in the form."""

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "dwwx_csrf"
FIELD_NAME = "csrf_token"
# Long enough to fill in a form after lunch; short enough that a leaked token ages.
MAX_AGE_SECONDS = 4 * 60 * 60


class CsrfTokens:
    """Issue and check CSRF tokens signed with the web's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="dwwx-csrf")

    def issue(self) -> str:
        """Return a new signed token."""
        return self._serializer.dumps(secrets.token_urlsafe(16))

    def is_valid(self, token: str | None) -> bool:
        """Say whether a token carries our signature and is not too old."""
        if not token:
            return False
        try:
            self._serializer.loads(token, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return False
        return True

    def matches(self, *, cookie: str | None, form: str | None) -> bool:
        """Say whether the form echoes the cookie's token and that token is ours."""
        if not cookie or not form:
            return False
        return secrets.compare_digest(cookie, form) and self.is_valid(cookie)
