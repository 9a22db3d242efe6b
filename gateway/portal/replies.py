"""Answers every portal page gives the same way: a form whose CSRF token is not the session's,
something that is not there, and a page number read from the query string."""

from __future__ import annotations

from starlette.responses import HTMLResponse

from gateway.portal.pages import Page

MAX_DIGITS = 9
"""A page number longer than this is no page (and ``int`` of thousands of digits is refused)."""


def form_expired(page: Page) -> HTMLResponse:
    """A form posted without this session's CSRF token (an old tab, or another site): 400."""
    return page.render("error.html", status=400, heading=page.t("form.expired"), detail=page.t("form.expired_detail"))


def not_found(page: Page, detail: str) -> HTMLResponse:
    """404 with what was looked for in ``detail`` (already in the page's language)."""
    return page.render("error.html", status=404, heading=page.t("error.not_found"), detail=detail)


def page_number(text: str, last: int | None = None) -> int | None:
    """The 1-based page number ``text`` names (ASCII digits only, at most ``last``); None otherwise."""
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS):
        return None
    number = int(text)
    return number if 1 <= number <= (last if last is not None else number) else None
