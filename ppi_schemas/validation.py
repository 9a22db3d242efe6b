"""Validate payloads against PPI schemas, locally and with every problem located.

Two validators serve two needs. :func:`validate` uses ``jsonschema`` (the reference
implementation, with structured errors) and returns *every* problem with an RFC 6901 JSON pointer
into the payload, so a client can fix all of them in one round trip. :func:`is_valid` uses the
compiled ``jsonschema_rs`` validator for hot paths such as a gateway checking each request.

Both resolve ``$ref`` only against the schemas of the PPI catalogue: a reference to anything else
raises :class:`UnresolvableReference` instead of fetching it, so validation never touches the
network and never depends on a third party being up.

jsonschema reports a few keywords at the parent object; for a pointer a client can act on,
``required``, ``additionalProperties``, ``unevaluatedProperties`` and ``propertyNames`` are
reported at the member concerned (the missing member, the unexpected member, the badly named
member), and a ``false`` subschema under ``properties``, ``patternProperties`` or ``prefixItems``
at the member or item it forbids.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing.jsonschema import DRAFT202012

from ppi_schemas.registry import PPI, catalogue, get


_Errors = Iterator[ValidationError]


class UnresolvableReference(LookupError):
    """A schema ``$ref`` points outside the PPI catalogue; contracts never fetch schemas."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a payload does not match a PPI: where (JSON pointer), what, and which rule."""

    pointer: str
    message: str
    keyword: str
    schema_path: str


def json_pointer(tokens: Iterable[str | int]) -> str:
    """RFC 6901 pointer for a path: ``""`` is the whole document, ``~`` and ``/`` are escaped."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def validate(payload: Any, ppi: PPI | str) -> list[Problem]:
    """Every problem of ``payload`` against ``ppi`` (a PPI or ``"name@version"``), sorted by pointer."""
    target = get(ppi) if isinstance(ppi, str) else ppi
    validator = _python_validator(target)
    try:
        errors = list(validator.iter_errors(payload))
    except referencing.exceptions.Unresolvable as error:
        raise UnresolvableReference(f"{target.ref}: cannot resolve $ref {error.ref!r}") from None
    return [_problem(error) for error in sorted(errors, key=_sort_key)]


def is_valid(payload: Any, ppi: PPI | str) -> bool:
    """Whether ``payload`` matches ``ppi``, with a compiled validator cached per PPI."""
    validator = _compiled_by_ref(ppi) if isinstance(ppi, str) else _compiled(ppi)
    return validator.is_valid(payload)


def _problem(error: ValidationError) -> Problem:
    return Problem(
        pointer=json_pointer(error.absolute_path),
        message=error.message,
        keyword=str(error.validator),
        schema_path=json_pointer(error.absolute_schema_path),
    )


def _sort_key(error: ValidationError) -> tuple[list[tuple[int, int, str]], str]:
    """Order by path, array indices numerically (``/a/2`` before ``/a/10``), then by message."""
    path = [(0, token, "") if isinstance(token, int) else (1, 0, str(token)) for token in error.absolute_path]
    return path, error.message


def _member(validator: Any, value: Any, subschema: Any, token: str | int, schema_token: str | int) -> _Errors:
    """Validate one member or item; jsonschema would drop the location of a ``false`` subschema."""
    if subschema is False:
        what = f"item {token}" if isinstance(token, int) else f"member {token!r}"
        yield ValidationError(f"{what} is not allowed here", path=[token], schema_path=[schema_token])
    else:
        yield from validator.descend(value, subschema, path=token, schema_path=schema_token)


def _properties(validator: Any, properties: dict[str, Any], instance: Any, schema: Any) -> _Errors:
    if validator.is_type(instance, "object"):
        for name, subschema in properties.items():
            if name in instance:
                yield from _member(validator, instance[name], subschema, name, name)


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> _Errors:
    if validator.is_type(instance, "object"):
        for pattern, subschema in patterns.items():
            for name, value in instance.items():
                if re.search(pattern, name):
                    yield from _member(validator, value, subschema, name, pattern)


def _prefix_items(validator: Any, prefix: list[Any], instance: Any, schema: Any) -> _Errors:
    if validator.is_type(instance, "array"):
        for index, (item, subschema) in enumerate(zip(instance, prefix)):
            yield from _member(validator, item, subschema, index, index)


def _required(validator: Any, required: list[str], instance: Any, schema: Any) -> _Errors:
    if validator.is_type(instance, "object"):
        for name in required:
            if name not in instance:
                yield ValidationError(f"{name!r} is a required property", path=[name])


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> _Errors:
    if additional is not False or not validator.is_type(instance, "object"):
        yield from _DRAFT_KEYWORDS["additionalProperties"](validator, additional, instance, schema)
        return
    declared = schema.get("properties", {})
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    for name in instance:
        if name not in declared and not any(pattern.search(name) for pattern in patterns):
            yield ValidationError(f"additional property {name!r} is not allowed", path=[name])


def _unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> _Errors:
    """Report each unevaluated member at its own pointer, with the reasons it is invalid.

    jsonschema reports one error at the parent that names the members (as reprs) and drops the
    reasons; the members are recovered from that message and validated again to get the reasons.
    """
    for error in _DRAFT_KEYWORDS["unevaluatedProperties"](validator, unevaluated, instance, schema):
        names = [name for name in instance if repr(name) in error.message]
        if not names:
            yield error
        for name in names:
            if unevaluated is False:
                yield ValidationError(f"unevaluated property {name!r} is not allowed", path=[name])
            else:
                yield from validator.descend(instance[name], unevaluated, path=name, schema_path=name)


def _property_names(validator: Any, names_schema: Any, instance: Any, schema: Any) -> _Errors:
    if validator.is_type(instance, "object"):
        for name in instance:
            yield from validator.descend(instance=name, schema=names_schema, path=name)


_DRAFT_KEYWORDS = Draft202012Validator.VALIDATORS
_LocatingValidator = validators.extend(
    Draft202012Validator,
    {
        "properties": _properties,
        "patternProperties": _pattern_properties,
        "prefixItems": _prefix_items,
        "required": _required,
        "additionalProperties": _additional_properties,
        "unevaluatedProperties": _unevaluated_properties,
        "propertyNames": _property_names,
    },
)


def _refuse_retrieval(uri: str) -> referencing.Resource:
    raise UnresolvableReference(f"$ref {uri!r} is not a schema of the PPI catalogue and is never fetched")


def _dialectless(schema: Any) -> Any:
    """The schema without ``$schema``: jsonschema switches to its stock validator class wherever it
    meets that marker, losing the locating keywords above. Every catalogue schema is 2020-12
    (checked when the catalogue loads), so the marker carries no information here."""
    if not isinstance(schema, dict):
        return schema
    return {key: value for key, value in schema.items() if key != "$schema"}


@functools.cache
def _referencing_registry() -> referencing.Registry:
    resources = [
        (ppi.schema_id, DRAFT202012.create_resource(_dialectless(ppi.schema))) for ppi in catalogue()
    ]
    return referencing.Registry(retrieve=_refuse_retrieval).with_resources(resources).crawl()


@functools.cache
def _compiled_registry() -> jsonschema_rs.Registry:
    resources = [(ppi.schema_id, ppi.schema) for ppi in catalogue()]
    try:
        return jsonschema_rs.Registry(resources, draft=jsonschema_rs.Draft202012)
    except ValueError as error:
        raise UnresolvableReference(f"PPI catalogue: {error}") from None


@functools.cache
def _python_validator(ppi: PPI) -> Any:
    _compiled(ppi)  # compiling resolves every $ref now, so a bad one fails here, not mid-payload
    return _LocatingValidator(
        _dialectless(ppi.schema),
        registry=_referencing_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


@functools.cache
def _compiled(ppi: PPI) -> jsonschema_rs.Draft202012Validator:
    try:
        return jsonschema_rs.Draft202012Validator(
            ppi.schema, registry=_compiled_registry(), validate_formats=True, offline=True
        )
    except (ValueError, jsonschema_rs.ValidationError) as error:
        reason = str(error).splitlines()[0]
        raise UnresolvableReference(f"{ppi.ref}: cannot compile its schema: {reason}") from None


@functools.cache
def _compiled_by_ref(ref: str) -> jsonschema_rs.Draft202012Validator:
    return _compiled(get(ref))
