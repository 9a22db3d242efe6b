"""Fixtures of the portal's browser tests: the whole platform as a user runs it, and Chromium.

``platform`` is ``oup up`` itself (every service as its own process, on ports shifted to a free
range), started once per test session because it takes seconds: tests must not rely on data other
tests leave behind. ``browser`` is Debian's Chromium driven by Playwright; ``page`` a fresh
context for each test, so cookies and storage never leak from one test into the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, require_browser
from playwright import sync_api as playwright
from running import Platform, demo_passwords
from serving import free_port_offset, oup_up

from mims.cli.services import SERVICES


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    offset = free_port_offset([service.port for service in SERVICES.values()])
    data_dir = tmp_path_factory.mktemp("platform") / "data"
    with oup_up(data_dir, offset, demo=True) as (_, printed):
        if "All services ready" not in printed:
            pytest.fail(f"oup up stopped before every service was ready:\n{printed}")
        yield Platform(
            gateway=f"http://127.0.0.1:{SERVICES['gateway'].port + offset}",
            identity=f"http://127.0.0.1:{SERVICES['identity'].port + offset}",
            printed=printed,
            passwords=demo_passwords(printed),
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    require_browser()
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
