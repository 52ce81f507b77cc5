"""A person signs up in a real browser: homepage, form, thank-you, row saved (v4)."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import need, wait_for

# Chromium's own background traffic is refused on a closed network; keep it quiet.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    need("Chromium", "install Debian's chromium package")
    raise AssertionError("unreachable")


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_sign_up_in_the_browser_reaches_the_database(project, browser_page, tmp_path):
    page = browser_page
    project.ok("up", "v4")

    page.goto(f"{project.app_url}/")
    page.get_by_role("link", name="Sign up for early access").click()
    page.wait_for_url("**/app/")
    page.locator("a.button", has_text="Sign up").click()
    page.wait_for_url("**/app/signup")

    assert page.locator("select#country_code option").first.inner_text() == (
        "--Not telling"
    )
    page.fill("#first_name", "Barbara")
    page.fill("#last_name", "Liskov")
    page.fill("#company_name", "Substitution Ltd")
    page.fill("#email_address", "barbara@example.com")
    page.select_option("#role_code", "AC")
    page.select_option("#country_code", "USA")
    page.get_by_role("button", name="Sign up").click()

    page.wait_for_url("**/app/thank-you")
    assert page.locator("h1").inner_text() == "Thank you!"
    page.screenshot(path=str(tmp_path / "thank-you.png"))
    wait_for(
        lambda: project.dwwx("verify-db", "--email", "barbara@example.com").code == 0,
        timeout=20,
        what="the handler to save the browser's sign-up",
    )


def test_invalid_form_in_the_browser_shows_the_message(project, browser_page):
    page = browser_page
    project.ok("up", "v1")

    page.goto(f"{project.app_url}/signup")
    page.fill("#first_name", "Alan")
    page.fill("#email_address", "not-an-address")
    page.get_by_role("button", name="Sign up").click()

    assert page.locator("#last_name-error").inner_text() == "Last name is required."
    assert page.locator("#email_address-error").inner_text() == (
        "Enter a valid email address, like ada@example.com."
    )
    assert page.input_value("#first_name") == "Alan"
    assert "0 rows" in project.ok("verify-db")
