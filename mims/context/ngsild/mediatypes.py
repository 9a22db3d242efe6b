"""Media types of the NGSI-LD API and their negotiation (ETSI GS CIM 009 V1.8.1, clause 6.3.4).

Requests with a body are ``application/json`` or ``application/ld+json`` (415 otherwise), and
merges also ``application/merge-patch+json``;
responses are ``application/json`` (the @context travels in a Link header),
``application/ld+json`` (the @context is in the body) or, where entities are returned,
``application/geo+json`` (clause 6.3.15). ``*/*`` and ``application/*`` mean ``application/json``;
an Accept header naming none of these is answered with 406.
"""

from __future__ import annotations

from collections.abc import Sequence

from mims.context.ngsild.errors import NotAcceptable, UnsupportedMediaType

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"

BODY_MEDIA_TYPES = (JSON, JSON_LD)
ENTITY_MEDIA_TYPES = (JSON, JSON_LD, GEO_JSON)


def media_type(content_type: str | None) -> str | None:
    """The bare, lower-cased media type of a Content-Type value (parameters dropped)."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def body_media_type(content_type: str | None, accepted: Sequence[str] = BODY_MEDIA_TYPES) -> str:
    """The media type of a request body, one of ``accepted`` (clause 6.3.4); 415 otherwise.

    Merge operations also take ``application/merge-patch+json`` (RFC 7396), which carries its
    @context in the Link header as ``application/json`` does, so it is answered as ``JSON``.
    """
    kind = media_type(content_type)
    if kind not in accepted:
        sent = f"Content-Type {content_type!r}" if content_type else "a body without Content-Type"
        raise UnsupportedMediaType(f"This operation does not accept {sent}; send {' or '.join(accepted)}.")
    return JSON if kind == MERGE_PATCH else kind


def negotiate(accept: str | None, offered: Sequence[str] = (JSON, JSON_LD)) -> str:
    """The offered media type the Accept header prefers (RFC 9110 section 12.5.1 q-values).

    Ties go to the order of ``offered`` (JSON first), wildcards match it as a fallback.
    """
    if not accept or not accept.strip():
        return offered[0]
    best: tuple[float, int, int] | None = None
    chosen = None
    for item in accept.split(","):
        parts = [part.strip() for part in item.split(";")]
        kind = parts[0].lower()
        quality = _quality(parts[1:])
        if quality <= 0:
            continue
        for rank, candidate in enumerate(offered):
            specificity = _matches(kind, candidate)
            if specificity is None:
                continue
            key = (quality, specificity, -rank)
            if best is None or key > best:
                best, chosen = key, candidate
    if chosen is None:
        raise NotAcceptable(f"None of the media types in Accept {accept!r} is offered here; offered: {', '.join(offered)}.")
    return chosen


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def _matches(pattern: str, candidate: str) -> int | None:
    """How specifically ``pattern`` names ``candidate``: 2 exactly, 1 ``type/*``, 0 ``*/*``."""
    if pattern == candidate:
        return 2
    if pattern == "*/*":
        return 0
    if pattern.endswith("/*") and candidate.startswith(pattern[:-1]):
        return 1
    return None
