"""Fixtures of the portal's browser tests: the whole platform as a user runs it, and Chromium.

``platform`` is ``oup up`` with its demo (every service as its own process, on ports shifted to a
free range). It takes seconds, so it is session-scoped: started once per test worker that runs
files of this folder (``--dist loadfile`` gives a worker whole files), and tests must not rely on
data other tests leave behind. ``browser`` is Debian's Chromium driven by Playwright, with
axe-core at hand for the audits; ``page`` a fresh context for each test, so cookies and storage
never leak from one test into the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from audit import require_axe
from browser import CHROMIUM, CHROMIUM_FLAGS, require_browser
from oup_platform import Platform, demo_platform
from playwright import sync_api as playwright


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with demo_platform(tmp_path_factory.mktemp("platform")) as platform:
        yield platform


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    require_browser()
    require_axe()
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: playwright.Browser) -> Iterator[playwright.Page]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
