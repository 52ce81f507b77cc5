"""The one prospect the tests sign up, as form fields or as a Prospect."""

from src_apps.shared.model import Prospect

ADA: dict[str, str] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company_name": "Analytical Engines",
    "email_address": "ada@example.com",
    "role_code": "EN",
    "country_code": "GBR",
}


def prospect(**changes: str) -> Prospect:
    """Return a valid prospect, with some fields changed."""
    return Prospect(**(ADA | changes))
