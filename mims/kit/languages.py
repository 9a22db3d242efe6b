"""The language of a page for people: Dutch or English, chosen the same way by every page the
platform serves (the identity MIM's sign-in page, the permit check's report, the gateway's portal).

The first of: a language asked for explicitly (``ui_locales`` of OpenID Connect Core 3.1.2.1, a
``lang`` parameter), the one remembered in the ``oup_lang`` cookie, the browser's
``Accept-Language`` (RFC 9110 12.5.4, by q-value); Dutch otherwise.
"""

from __future__ import annotations

import re

from starlette.responses import Response

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
#: The cookie remembering a person's choice; one name for every service of the platform.
LANGUAGE_COOKIE = "oup_lang"
#: How long the choice is remembered: a year.
LANGUAGE_COOKIE_SECONDS = 365 * 86_400

_LANGUAGE_RANGE = re.compile(r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*")


def choose_language(asked: str | None, remembered: str | None, accept_language: str | None) -> str:
    """The page language (module docstring); ``asked`` may hold several space-separated tags."""
    for tag in (asked or "").split():
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    if remembered in LANGUAGES:
        return remembered
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        match = _LANGUAGE_RANGE.fullmatch(item)
        if match and match.group(1).lower() in LANGUAGES:
            quality = float(match.group(2)) if match.group(2) else 1.0
            if quality > 0:
                ranked.append((-quality, position, match.group(1).lower()))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def remember_language(response: Response, lang: str, *, secure: bool) -> None:
    """Remember ``lang`` in the browser for every service of the platform (``secure``: only over HTTPS)."""
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=LANGUAGE_COOKIE_SECONDS, httponly=True, samesite="lax",
                        secure=secure, path="/")
