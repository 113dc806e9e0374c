"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real stack.

A test asks for `page`: a fresh browser context whose relative URLs resolve against the stack's
gateway. The test fails at teardown when the page logged a console error (Chromium also logs
every same-origin answer >= 400 there), threw an uncaught error, or a same-origin request failed
outright, unless the test declared that error expected with `page_errors.allow(regex)`.

The browser is the one `make chromium` installed (tests/chromium.py: /usr/bin/chromium, or
Debian's package unpacked under .venv/chromium without root); CHROMIUM=path overrides it.
Playwright never downloads a browser of its own here.

Test modules import the fixtures they use: `from tests.browser import browser, page, page_errors`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from tests import chromium

INSTALL_DIR = Path(sys.prefix) / "chromium"
"""Where the Makefile has tests/chromium.py unpack Chromium: beside the venv's interpreter."""

SESSION_KEY = "craftkit.apiKey"
"""The sessionStorage entry the dashboard keeps the signed-in API key in."""


def chromium_path() -> Path:
    """The Chromium executable for Playwright's `executable_path`."""
    override = os.environ.get("CHROMIUM")
    if override:
        return Path(override)
    path = chromium.executable(INSTALL_DIR)
    if path is None and chromium.SYSTEM.exists():
        path = chromium.SYSTEM
    if path is None:
        raise RuntimeError(f"no Chromium for the browser tests: run `make chromium` (unpacks "
                           f"Debian's package into {INSTALL_DIR}, no root needed)")
    return path


class PageErrors:
    """What went wrong in a page, as the lines a developer would see in DevTools."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def allow(self, pattern: str) -> None:
        """Declares an error the test provokes on purpose (say a 400 the page must show)."""
        self.allowed.append(re.compile(pattern))

    def watch(self, page: Page) -> Page:
        """Records what goes wrong in `page` from now on (console, uncaught errors, requests)."""
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)
        page.on("requestfailed", self.on_request_failed)
        return page

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(p.search(e) for p in self.allowed)]

    def on_console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if where == f"{self.origin}/favicon.ico":
            return  # Chromium asks for it on its own for a page that names no icon
        if message.type == "error":
            self.seen.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    def on_page_error(self, error: Exception) -> None:
        self.seen.append(f"uncaught error: {error}")

    def on_request_failed(self, request: Request) -> None:
        if _origin(request.url) == self.origin:
            self.seen.append(f"request failed: {request.method} {request.url}: {request.failure}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def launch(playwright) -> Browser:
    """Chromium headless with the flags this machine's closed network needs."""
    flags = [flag for flag in chromium.FLAGS if flag != "--headless"]  # Playwright adds its own
    return playwright.chromium.launch(executable_path=str(chromium_path()), headless=True,
                                      args=flags)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Not per session: while Playwright's sync API runs, its
    event loop counts as running in this thread, and every later asyncio.run() would fail."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors(stack) -> PageErrors:
    return PageErrors(_origin(stack.base_url))


@pytest.fixture
def page(browser, stack, page_errors):
    """A page in a fresh context (no cookies, no sessionStorage) on the stack's gateway."""
    context = browser.new_context(base_url=stack.base_url)
    context.set_default_timeout(15_000)
    page = page_errors.watch(context.new_page())
    try:
        yield page
    finally:
        context.close()
    unexpected = page_errors.unexpected()
    if unexpected:
        pytest.fail("the page reported errors:\n" + "\n".join(unexpected), pytrace=False)


def sign_in(page: Page, key: str) -> None:
    """Starts every later page of this context signed in with `key`, for tests about what comes
    after signing in (the sign-in form itself is tested by typing into it)."""
    page.context.add_init_script(
        f"window.sessionStorage.setItem({json.dumps(SESSION_KEY)}, {json.dumps(key)});")
