"""Browser fixtures for the consoles' tests: Debian's Chromium driven by Playwright (async).

Playwright's own browser download is not reachable here, so the system ``chromium`` is
launched through ``executable_path`` (``.ci/run`` installs it when missing); without
it the browser tests are skipped saying so. The async API runs on the test session's
event loop, so browser tests mix freely with the other async tests and fixtures (the
sync API would run its own loop in the main thread and break them).

- ``chromium_browser``: one browser for the whole session;
- ``page``: a fresh context (1280x800, English) and page per test;
- ``horizontal_overflow(page)``: how many CSS pixels the page is wider than its viewport.
"""

import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright

NARROW_VIEWPORT = {"width": 390, "height": 844}  # a phone held upright


async def horizontal_overflow(page: Page) -> int:
    """How far the page scrolls sideways (0 when it fits; a wide table scrolls inside its
    own box and does not count)."""
    width: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


@pytest.fixture(scope="session")
async def chromium_browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(chromium_browser: Browser) -> AsyncIterator[Page]:
    context = await chromium_browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    try:
        yield await context.new_page()
    finally:
        await context.close()
