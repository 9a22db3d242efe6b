"""The browser every browser test drives: Debian's Chromium, headless, through Playwright.

Without Chromium (or another piece a browser test needs) those tests are skipped on a developer's
machine, but fail under ``OUP_REQUIRE_BROWSER=1`` (as in CI), so a missing browser can never pass
as a green run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM = os.environ.get("OUP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_missing(message: str) -> NoReturn:
    """Skip the test for want of ``message``'s piece, or fail it where browsers are required."""
    if os.environ.get("OUP_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_browser() -> None:
    """Go on only where Chromium is installed."""
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        browser_missing(f"no Chromium at {CHROMIUM} (Debian package chromium)")
