"""The prospect: what a sign-up collects, and the rules it must satisfy."""

import re
from collections.abc import Mapping, Set

from pydantic import BaseModel, ConfigDict

FIELD_LIMITS: dict[str, int] = {
    "first_name": 50,
    "last_name": 50,
    "company_name": 50,
    "email_address": 100,
}

FIELD_LABELS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "company_name": "Company",
    "email_address": "Email",
    "role_code": "Role",
    "country_code": "Country",
}

# Deliberately simple: one "@", a dot in the domain, no spaces. Deliverability
# is not the web's business; rejecting obvious typos is.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# No database stores NUL in text, and no name needs a control character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Prospect(BaseModel):
    """A person who signed up: the payload of a sign-up and of its event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str
    last_name: str
    company_name: str
    email_address: str
    role_code: str
    country_code: str


def check_prospect(
    data: Mapping[str, object], *, roles: Set[str], countries: Set[str]
) -> tuple[Prospect | None, dict[str, str]]:
    """Validate raw fields; return the prospect, or None and a message per field."""
    values = {name: _text(data.get(name)) for name in FIELD_LABELS}
    errors: dict[str, str] = {}

    for name, limit in FIELD_LIMITS.items():
        label = FIELD_LABELS[name]
        if not values[name]:
            errors[name] = f"{label} is required."
        elif len(values[name]) > limit:
            errors[name] = f"{label} must be at most {limit} characters."
        elif _CONTROL.search(values[name]):
            errors[name] = f"{label} must not contain control characters."

    email = values["email_address"]
    if "email_address" not in errors and not _EMAIL.match(email):
        errors["email_address"] = "Enter a valid email address, like ada@example.com."

    if values["role_code"] not in roles:
        errors["role_code"] = "Choose a role from the list."
    if values["country_code"] not in countries:
        errors["country_code"] = "Choose a country from the list."

    if errors:
        return None, errors
    return Prospect(**values), {}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
