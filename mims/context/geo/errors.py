"""Exceptions of the geo part, kept free of HTTP so the API layer decides the problem type.

The API layer maps `GeoQueryError` to an NGSI-LD BadRequestData / InvalidRequest problem naming
`parameter`, and `InvalidGeometry` to BadRequestData with `pointer` appended to the pointer of
the GeoProperty value (CIM 009 clause 6.3.2).
"""

from __future__ import annotations


class GeoQueryError(ValueError):
    """A geo-query (CIM 009 clause 4.10) that cannot be evaluated.

    `parameter` names the offending query parameter (`georel`, `geometry`, `coordinates`,
    `geoproperty`) or, for the JSON form of subscriptions, the member of the `geoQ` object.
    """

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.message = message
        self.parameter = parameter


class InvalidGeometry(ValueError):
    """A GeoJSON geometry that breaks IETF RFC 7946 section 3.1.

    `pointer` is a JSON pointer relative to the geometry object ("" is the object itself).
    """

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.message = message
        self.pointer = pointer
