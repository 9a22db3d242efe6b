"""The platform's one way to choose and remember a page's language (``mims.kit.languages``)."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from mims.kit.languages import (
    LANGUAGE_COOKIE,
    choose_language,
    ranked_ranges,
    remember_language,
)


@pytest.mark.parametrize(("asked", "remembered", "accept", "chosen"), [
    ("en-GB nl", "nl", "nl", "en"),
    (None, "en", "nl", "en"),
    (None, "fr", "fr, en;q=0.5, nl;q=0.8", "nl"),
    (None, None, "en;q=0", "nl"),
    # RFC 9110 12.5.4: a refusal is kept, * stands for any other, a weight above 1 is no weight.
    (None, None, "nl;q=0", "en"),
    (None, None, "de, nl;q=0", "en"),
    (None, None, "nl;q=0, *", "en"),
    (None, None, "*", "nl"),
    (None, None, "en;q=1.5, nl;q=0.5", "nl"),
    (None, None, "en;Q=0.9, nl;q=0.8", "en"),
    (None, None, "nl-BE;q=0.4, en-GB;q=0.3", "nl"),
    (None, None, "en, nl", "en"),
    (None, None, "", "nl"),
])
def test_the_language_asked_for_then_remembered_then_accepted(asked, remembered, accept, chosen) -> None:
    assert choose_language(asked, remembered, accept) == chosen


@pytest.mark.parametrize("secure", [False, True])
def test_a_chosen_language_is_remembered_for_a_year_for_every_page(secure: bool) -> None:
    response = Response()
    remember_language(response, "en", secure=secure)
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;") and "max-age=31536000" in cookie and "path=/" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and ("; secure" in cookie) is secure


def test_ranges_are_ranked_by_weight_then_order_with_malformed_ones_left_out() -> None:
    assert ranked_ranges("fr;q=0.5, EN-gb, nl;q=0, de;q=2, ;q=1, *;q=0.1, x y") == [
        ("en-gb", 1.0), ("fr", 0.5), ("*", 0.1), ("nl", 0.0)]
