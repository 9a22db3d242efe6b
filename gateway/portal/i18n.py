"""The portal's words in Dutch and English and the language of a request (``mims.kit.languages``).

``locales/<lang>.json`` holds the words of the layout and front page, ``locales/<section>.<lang>.json``
those of one section; each a flat object. A key is defined once per language, and both languages
hold the same keys (a test checks)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson
from starlette.requests import Request

from mims.kit.languages import LANGUAGE_COOKIE, LANGUAGES, choose_language

__all__ = ["LANGUAGES", "LANGUAGE_COOKIE", "Words", "request_language", "words"]

_LOCALES = Path(__file__).with_name("locales")


class Words:
    """``words("key", name=...)``: the text for ``key`` in one language, ``{fields}`` filled in."""

    def __init__(self, lang: str, texts: dict[str, str]) -> None:
        self.lang = lang
        self._texts = texts

    def __call__(self, key: str, **fields: object) -> str:
        text = self._texts.get(key)
        if text is None:
            raise KeyError(f"no {self.lang} text for {key!r} in {_LOCALES / (self.lang + '.json')}")
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in self._texts


@cache
def words(lang: str) -> Words:
    texts: dict[str, str] = {}
    for path in sorted(_LOCALES.glob(f"*{lang}.json")):
        if path.name != f"{lang}.json" and not path.name.endswith(f".{lang}.json"):
            continue
        for key, text in orjson.loads(path.read_bytes()).items():
            if key in texts:
                raise ValueError(f"{path}: {key!r} is defined in another {lang} file too")
            texts[key] = text
    return Words(lang, texts)


def request_language(request: Request) -> str:
    """``?lang=``, else the remembered choice, else Accept-Language, else Dutch."""
    return choose_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE),
                           request.headers.get("accept-language"))
