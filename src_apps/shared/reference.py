"""The workshop's reference data: roles and countries a prospect chooses from."""

NOT_TELLING = "-"

ROLES: dict[str, str] = {
    NOT_TELLING: "--Not telling",
    "DA": "Developer Advocate",
    "DM": "Decision Maker",
    "AC": "Architect",
    "EN": "Engineer",
    "OP": "IT Ops",
}

COUNTRIES: dict[str, str] = {
    NOT_TELLING: "--Not telling",
    "GBR": "United Kingdom",
    "USA": "United States",
    "PT": "Portugal",
    "NOR": "Norway",
    "SWE": "Sweden",
    "IRE": "Ireland",
    "DMK": "Denmark",
    "IND": "India",
    "LIT": "Lithuania",
    "SPN": "Spain",
    "BGM": "Belgium",
    "TNL": "The Netherlands",
    "POL": "Poland",
}


def display_order(items: dict[str, str]) -> list[tuple[str, str]]:
    """Return (code, name) pairs with "--Not telling" first, the rest by name."""
    rest = sorted(
        ((code, name) for code, name in items.items() if code != NOT_TELLING),
        key=lambda pair: pair[1],
    )
    head = [(NOT_TELLING, items[NOT_TELLING])] if NOT_TELLING in items else []
    return head + rest
