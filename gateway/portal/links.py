"""Links the portal puts in ``href``: only web addresses (http, https) and mail addresses from the
data it shows, and its own dataset pages with the id quoted."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

WEB_SCHEMES = ("http", "https")


def web_link(iri: object) -> str | None:
    """``iri`` when it is an absolute http(s) address with a host; None otherwise (``javascript:``,
    ``data:``, relative or odd values are shown as text, never linked)."""
    if not isinstance(iri, str):
        return None
    try:
        parts = urlsplit(iri.strip())
    except ValueError:
        return None
    return iri.strip() if parts.scheme.lower() in WEB_SCHEMES and parts.netloc else None


def mail_link(address: object) -> str | None:
    """A ``mailto:`` link for an e-mail address (with or without its ``mailto:``); None otherwise."""
    if not isinstance(address, str):
        return None
    plain = address.strip().removeprefix("mailto:")
    return f"mailto:{quote(plain, safe='@.+-_')}" if plain.count("@") == 1 and " " not in plain else None


def dataset_page(dataset_id: str) -> str:
    """This portal's page of one of its own city's datasets."""
    return f"/data/{quote(dataset_id, safe='')}"
