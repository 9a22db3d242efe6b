"""An accessibility audit of the page a browser test is on: axe-core against WCAG 2.2 level AA.

axe-core comes from the npm registry, pinned in this folder's package-lock.json and installed by
``make test`` (``npm ci --prefix tests/portal``): a test dependency like any other, so where
Chromium is present and axe-core is not, the browser tests fail rather than skip. A serious or
critical violation fails the test; each audit leaves a full-page screenshot and axe's whole
result as artefacts, so a reviewer can see what was checked without rerunning it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.0, 2.1 and 2.2, levels A and AA, as axe-core tags its rules.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: The impacts that fail a test; moderate and minor ones are kept in the saved result.
BLOCKING_IMPACTS = {"serious", "critical"}
#: How many of a violation's elements the failure message names.
SHOWN_TARGETS = 3


class AccessibilityViolations(AssertionError):
    """The page has serious or critical WCAG violations (axe's entries in ``violations``)."""

    def __init__(self, name: str, violations: list[dict[str, Any]]) -> None:
        self.violations = violations
        lines = [f"{name}: {len(violations)} serious or critical WCAG violation(s)"]
        for violation in violations:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:SHOWN_TARGETS]]
            more = len(violation["nodes"]) - len(targets)
            lines.append(
                f"- {violation['id']} ({violation['impact']}): {violation['help']}"
                f" at {', '.join(targets)}{f' and {more} more' if more > 0 else ''}"
            )
        super().__init__("\n".join(lines))


def artefacts() -> Path:
    """Where audits leave their screenshots and results: ``OUP_TEST_ARTIFACTS``, or
    ``test-artifacts/portal`` in the project."""
    configured = os.environ.get("OUP_TEST_ARTIFACTS")
    return Path(configured) if configured else HERE.parents[1] / "test-artifacts" / "portal"


def require_axe(axe: Path = AXE) -> None:
    """Fail, naming the command that installs it, unless axe-core is at ``axe``."""
    if not axe.exists():
        npm = "" if shutil.which("npm") else " (npm itself is not installed)"
        pytest.fail(f"axe-core is not installed at {axe}{npm}: `make test` installs it, "
                    "or run `npm ci --prefix tests/portal`")


def audit(page: Page, name: str) -> None:
    """Audit ``page`` as it is now; ``name`` (a file name, no folder) names its artefacts.

    Raises ``AccessibilityViolations`` listing every serious or critical violation."""
    # Evaluated over the DevTools protocol rather than added as a <script>: the pages' own
    # Content-Security-Policy forbids inline scripts, and it must stay in force while tested.
    page.evaluate(f"{AXE.read_text(encoding='utf-8')}\n;undefined")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    folder = artefacts()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)
    (folder / f"{name}.axe.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    blocking = [violation for violation in result["violations"] if violation["impact"] in BLOCKING_IMPACTS]
    if blocking:
        raise AccessibilityViolations(name, blocking)
