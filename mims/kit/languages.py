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

# RFC 9110 12.5.4: language-range (RFC 4647 2.1) with an optional weight (12.4.2: q is 0 to 1,
# three decimals at most; the parameter name is case-insensitive).
_RANGE = re.compile(r"\s*(\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)\s*(?:;\s*[qQ]\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?))?\s*")


def ranked_ranges(accept_language: str | None) -> list[tuple[str, float]]:
    """The well-formed language ranges of an ``Accept-Language`` header with their weights,
    most wanted first (equal weights in header order), refusals (q=0) included; lower case."""
    ranges = []
    for item in (accept_language or "").split(","):
        match = _RANGE.fullmatch(item)
        if match:
            ranges.append((match.group(1).lower(), float(match.group(2)) if match.group(2) else 1.0))
    return sorted(ranges, key=lambda pair: -pair[1])


def choose_language(asked: str | None, remembered: str | None, accept_language: str | None) -> str:
    """The page language (module docstring); ``asked`` may hold several space-separated tags.

    From ``Accept-Language`` each language gets the highest weight of the ranges naming it (``nl``,
    ``nl-BE``), else that of ``*``; the most wanted one above 0 is chosen. When none is wanted,
    Dutch unless it was refused (``nl;q=0``)."""
    for tag in (asked or "").split():
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    if remembered in LANGUAGES:
        return remembered
    ranges = ranked_ranges(accept_language)
    weights: dict[str, float] = {}
    for language in LANGUAGES:
        named = [q for tag, q in ranges if tag.split("-")[0] == language]
        anything = [q for tag, q in ranges if tag == "*"]
        if named or anything:
            weights[language] = max(named) if named else anything[0]
    first: dict[str, int] = {}  # where each language (or *) is first named: equal weights keep that order
    for index, (tag, _) in enumerate(ranges):
        first.setdefault(tag.split("-")[0], index)
    wanted = sorted((language for language, q in weights.items() if q > 0),
                    key=lambda language: (-weights[language], first.get(language, first.get("*", 0))))
    if wanted:
        return wanted[0]
    if weights.get(DEFAULT_LANGUAGE) == 0:
        return next((language for language in LANGUAGES if weights.get(language) != 0), DEFAULT_LANGUAGE)
    return DEFAULT_LANGUAGE


def remember_language(response: Response, lang: str, *, secure: bool) -> None:
    """Remember ``lang`` in the browser for every service of the platform (``secure``: only over HTTPS)."""
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=LANGUAGE_COOKIE_SECONDS, httponly=True, samesite="lax",
                        secure=secure, path="/")
