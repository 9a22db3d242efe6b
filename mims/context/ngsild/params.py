"""Query parameters of entity retrieval and query (CIM 009 V1.8.1, clauses 6.3.7, 6.3.10, 6.4.3.2).

``options``/``format`` choose the representation, ``attrs``/``pick``/``omit`` project it
(clause 4.21), ``limit``/``offset``/``count`` page results (clause 6.3.10). Every name is
expanded with the request's @context here, so the domain below only sees IRIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import BadRequestData, TooManyResults
from mims.context.ngsild.render import CONCISE, KEY_VALUES, NORMALIZED, Representation

#: Entity members pick/omit may name besides attributes.
ENTITY_MEMBERS = ("id", "type", "scope")
_OPTIONS = {"keyValues", "concise", "normalized", "sysAttrs"}
_FORMATS = (KEY_VALUES, CONCISE, NORMALIZED)
MAX_LIST_ITEMS = 100


def names(value: str | None, parameter: str) -> list[str] | None:
    """A comma-separated list parameter; ``None`` when absent, an error when present but empty."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise BadRequestData(f"{parameter} must be a comma-separated list without empty items.")
    if len(items) > MAX_LIST_ITEMS:
        raise BadRequestData(f"{parameter} lists more than {MAX_LIST_ITEMS} items.")
    return items


def expanded_names(value: str | None, parameter: str, context: ActiveContext) -> frozenset[str] | None:
    """Attribute names of a list parameter, expanded to IRIs."""
    items = names(value, parameter)
    return None if items is None else frozenset(context.expand_term(item) for item in items)


def representation(params: Mapping[str, Any], context: ActiveContext) -> Representation:
    """The :class:`Representation` asked for by ``options``, ``format``, projections, ``lang``, ``datasetId``."""
    options = set(names(params.get("options"), "options") or ())
    unknown = options - _OPTIONS
    if unknown:
        raise BadRequestData(f"Unknown options {', '.join(sorted(unknown))}; supported: {', '.join(sorted(_OPTIONS))}.")
    chosen = params.get("format")
    if chosen is not None and chosen not in _FORMATS:
        raise BadRequestData(f"format must be one of {', '.join(_FORMATS)}.")
    if chosen is None:  # clause 6.3.7: keyValues takes precedence over concise
        chosen = next((kind for kind in _FORMATS if kind in options), NORMALIZED)
    if params.get("pick") is not None and params.get("omit") is not None:
        raise BadRequestData("pick and omit cannot be used together (clause 4.21).")
    dataset_ids = names(params.get("datasetId"), "datasetId")
    lang = params.get("lang")
    if lang is not None and not lang.strip():
        raise BadRequestData("lang must name at least one language tag.")
    return Representation(
        format=chosen,
        sys_attrs="sysAttrs" in options,
        attrs=expanded_names(params.get("attrs"), "attrs", context),
        pick=_members(params.get("pick"), "pick", context),
        omit=_members(params.get("omit"), "omit", context),
        lang=lang,
        dataset_ids=None if dataset_ids is None else frozenset(dataset_ids),
    )


def _members(value: str | None, parameter: str, context: ActiveContext) -> frozenset[str] | None:
    items = names(value, parameter)
    if items is None:
        return None
    return frozenset(item if item in ENTITY_MEMBERS else context.expand_term(item) for item in items)


@dataclass(frozen=True, slots=True)
class Paging:
    """``limit``, ``offset`` and ``count`` of a query (clause 6.3.10)."""

    limit: int
    offset: int
    count: bool


def paging(limit: str | None, offset: str | None, count: str | None, default_limit: int, max_limit: int) -> Paging:
    """Checked paging: ``limit=0`` only with ``count=true``; over the maximum is TooManyResults."""
    wanted = _non_negative(limit, "limit", default_limit)
    skip = _non_negative(offset, "offset", 0)
    counting = _boolean(count, "count")
    if wanted > max_limit:
        raise TooManyResults(f"limit {wanted} is over this broker's maximum page size of {max_limit}.")
    if wanted == 0 and not counting:
        raise BadRequestData("limit=0 is only allowed with count=true.")
    return Paging(wanted, skip, counting)


def _non_negative(value: str | None, parameter: str, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or len(value) > 12:
        raise BadRequestData(f"{parameter} must be a non-negative integer; got {value!r}.")
    return int(value)


def _boolean(value: str | None, parameter: str) -> bool:
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequestData(f"{parameter} must be true or false; got {value!r}.")
