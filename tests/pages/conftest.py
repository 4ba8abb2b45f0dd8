"""A real headless Chromium (Debian's package) driven by Playwright against live_server.

Nothing here downloads a browser: Playwright launches /usr/bin/chromium (`apt-get install
chromium`, which .ci/run does when it is missing). One browser per test module, a fresh
context (cookies, storage) for every test. Every page records the dialogs it opened and
the errors its console printed, Content-Security-Policy violations among them, so a test
can assert that nothing ran that should not have.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing reaching out: no updates, sync, QUIC probes or first-run pages.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a test waits for a DOM condition before failing (milliseconds).
TIMEOUT_MS = 10_000


@dataclass
class Watched:
    """A page and what it did besides rendering: dialogs opened, console errors."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def _playwright() -> Iterator[Playwright]:
    """Playwright's synchronous API keeps an asyncio loop marked running in this thread,
    and Django then refuses every ORM call from it (SynchronousOnlyOperation). The test
    code is synchronous and the loop runs no Django code, so the guard is lifted while a
    browser module runs, and only then: module-scoped, so the rest of the suite keeps it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (docs/development.md)")
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def browser(_playwright: Playwright) -> Iterator[Browser]:
    browser = _playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def watched(browser: Browser, live_server: Any) -> Iterator[Watched]:
    """A page in a fresh browser context, its base URL the live server's."""
    context = browser.new_context(base_url=live_server.url, timezone_id="Europe/Paris")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    seen = Watched(page)

    def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    yield seen
    context.close()
