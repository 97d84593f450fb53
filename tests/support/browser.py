"""Debian's Chromium, driven by Playwright, for the console's browser tests.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (installed by
``scripts/test.sh``) headless, with no network of its own (no sync, updates or QUIC).
``STRONGROOM_CONSOLE_SCREENSHOTS=<dir>`` makes the tests save the screenshots of
docs/console.md there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str, *, full_page: bool = True, selector: str = "") -> None:
    """Save a screenshot for the docs: the whole page, the viewport (``full_page=False``, to
    keep long pages' pictures small) or one element (``selector``)."""
    folder = os.environ.get("STRONGROOM_CONSOLE_SCREENSHOTS")
    if not folder:
        return
    path = str(Path(folder) / f"{name}.png")
    if selector:
        page.locator(selector).screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=full_page)


def sign_in(page: Page, endpoint: str, key: Any) -> None:
    page.goto(f"{endpoint}/console/sign-in")
    page.get_by_label("Access key ID").fill(key.access_key_id)
    page.get_by_label("Secret access key").fill(key.secret_access_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/keys")


UNLABELLED = """() => Array.from(document.querySelectorAll(
  "input:not([type=hidden]), textarea, select, button")).filter((el) => {
    const named = el.labels && el.labels.length > 0;
    const text = (el.getAttribute("aria-label") || el.textContent || "").trim();
    return el.tagName === "BUTTON" ? text === "" : !named;
  }).map((el) => el.outerHTML.slice(0, 120))"""


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls without a label (buttons without a name) on the page; [] when all have."""
    found: list[str] = page.evaluate(UNLABELLED)
    return found
