"""The pages a person meets on the way into the portal pass a WCAG 2.2 AA audit in a real browser.

The sign-in page is the identity MIM's, reached as the demo portal reaches it: an authorization
request (RFC 6749 section 4.1, with a PKCE challenge, RFC 7636) from the client ``demo-portal``
that ``oup up`` creates on first start. The portal's home page is the gateway's own, at ``/``. A
page with a known violation proves that the audit does report what it finds.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from audit import AccessibilityViolations, artefacts, audit, require_axe
from oup_platform import Platform
from playwright.sync_api import Page
from signing_in import sign_in_in_browser

#: RFC 7636 appendix B's S256 challenge: these tests never exchange a code, so any valid one does.
CODE_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _open_sign_in(platform: Platform, page: Page, language: str) -> None:
    """Open the sign-in page as the demo portal sends a person there; say why if it is not shown."""
    params = {
        "response_type": "code",
        "client_id": "demo-portal",
        "redirect_uri": platform.redirect_uri,
        "scope": "openid profile context:read",
        "state": "portal-audit",
        "code_challenge": CODE_CHALLENGE,
        "code_challenge_method": "S256",
        "ui_locales": language,
    }
    page.goto(f"{platform.identity}/authorize?{urlencode(params)}")
    assert page.is_visible("#username") and page.is_visible("#password"), page.inner_text("body")
    assert page.get_attribute("html", "lang") == language


def test_first_start_shows_the_demo_users_passwords(platform: Platform) -> None:
    assert set(platform.passwords) == {"citizen", "officer"}, platform.printed
    assert all(len(password) >= 12 for password in platform.passwords.values())


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_sign_in_page_passes_the_audit(platform: Platform, page: Page, language: str) -> None:
    _open_sign_in(platform, page, language)
    audit(page, f"sign-in-{language}")


def test_a_failed_sign_in_passes_the_audit(platform: Platform, page: Page) -> None:
    _open_sign_in(platform, page, "en")
    page.fill("#username", "citizen")
    page.fill("#password", "not the password")
    with page.expect_navigation():
        page.press("#password", "Enter")
    assert page.is_visible("[role=alert]")
    assert page.get_attribute("#password", "aria-invalid") == "true"
    audit(page, "sign-in-failed-en")


def test_the_audit_reports_a_serious_violation_and_keeps_its_evidence(page: Page) -> None:
    evidence = [artefacts() / "known-violation.png", artefacts() / "known-violation.axe.json"]
    for left_by_an_earlier_run in evidence:
        left_by_an_earlier_run.unlink(missing_ok=True)
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Known violation</title></head>'
        '<body><main><h1>Parking</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">'
        "</main></body></html>"
    )
    with pytest.raises(AccessibilityViolations) as raised:
        audit(page, "known-violation")
    assert [violation["id"] for violation in raised.value.violations] == ["image-alt"]
    assert "image-alt (critical)" in str(raised.value) and "#no-alt" in str(raised.value)
    screenshot, result = evidence
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert '"image-alt"' in result.read_text(encoding="utf-8")


def test_without_axe_core_the_browser_tests_fail_and_say_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUP_REQUIRE_BROWSER", raising=False)  # where a missing browser is only skipped
    with pytest.raises(pytest.fail.Exception, match=r"`make test` installs it, or run `npm ci --prefix tests/portal`"):
        require_axe(tmp_path / "axe.min.js")
    require_axe()  # installed here, as `make test` does


def test_the_portal_home_page_passes_the_audit(platform: Platform, page: Page) -> None:
    response = page.goto(f"{platform.gateway}/")
    assert response is not None and response.status == 200, page.inner_text("body")
    assert response.headers["content-type"].startswith("text/html")
    assert page.get_attribute("html", "lang") == "en"
    audit(page, "portal-home-en")


def test_a_citizen_signs_in_from_the_portal_by_keyboard_and_out_again(platform: Platform, page: Page) -> None:
    page.goto(f"{platform.gateway}/data")
    page.get_by_role("link", name="Sign in").focus()
    with page.expect_navigation(url=f"{platform.identity}/authorize?**"):
        page.keyboard.press("Enter")
    sign_in_in_browser(page, "citizen", platform.passwords["citizen"], f"{platform.gateway}/data**", keyboard=True)
    assert page.get_by_text("Signed in as Demo citizen").is_visible()
    assert page.get_attribute("[aria-current=page]", "href") == "/data"  # back where the person started
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").press("Enter")
    assert page.get_by_role("banner").get_by_role("link", name="Sign in").is_visible()
    assert not page.get_by_text("Signed in as").is_visible()


def test_the_language_is_switched_remembered_and_shared_with_the_sign_in_page(platform: Platform,
                                                                               page: Page) -> None:
    page.goto(f"{platform.gateway}/")
    assert page.get_attribute("html", "lang") == "en"  # the browser's language (en-GB)
    with page.expect_navigation():
        page.get_by_role("link", name="Nederlands").click()
    assert page.get_attribute("html", "lang") == "nl" and page.url == f"{platform.gateway}/"
    assert page.get_by_role("heading", level=1).inner_text() == "Het open dataplatform van de stad"
    audit(page, "portal-home-nl")
    with page.expect_navigation():
        page.get_by_role("link", name="Datamarktplaats").click()
    assert page.get_attribute("html", "lang") == "nl"  # remembered on the next page
    with page.expect_navigation(url=f"{platform.identity}/authorize?**"):
        page.get_by_role("link", name="Inloggen").click()
    assert page.get_attribute("html", "lang") == "nl"  # and on the identity MIM's sign-in page


def test_an_unknown_portal_page_is_an_accessible_not_found_page(platform: Platform, page: Page) -> None:
    response = page.goto(f"{platform.gateway}/language/xx")
    assert response is not None and response.status == 404
    assert page.get_by_role("alert").is_visible()
    audit(page, "portal-error-en")
