"""The checked 2D shapes of GeoJSON geometries met again and again: stored GeoProperty values.

A geo-query confirms each candidate the box index gives (``relations.matches``) by checking its
geometry (RFC 7946, simple features) and building its shape; the same stored geometries come
back query after query. `target_shape` keeps what that gave, keyed by the geometry's JSON text
(two values with the same text check and build alike), least recently used first out, within a
byte budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import orjson
from shapely.geometry.base import BaseGeometry

from .errors import InvalidGeometry
from .geometry import checked_shape

BUDGET = 64 * 1024 * 1024
"""Bytes of JSON text whose shapes are kept (a shape takes about as much again)."""
LARGEST = 1024 * 1024
"""Bytes of JSON text above which a geometry's shape is built each time, not kept."""


class ShapeCache:
    """Shapes (None: not a geometry a relation holds for) by JSON text, least recently used out."""

    def __init__(self, budget: int = BUDGET, largest: int = LARGEST) -> None:
        self.budget, self.largest = budget, largest
        self._shapes: OrderedDict[bytes, BaseGeometry | None] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def shape(self, geometry: object) -> BaseGeometry | None:
        """The checked, non-empty 2D shape of a GeoJSON geometry; None when it is none."""
        try:
            key = orjson.dumps(geometry)
        except (TypeError, orjson.JSONEncodeError):  # not JSON as such: nothing to key it by
            return _build(geometry)
        with self._lock:
            if key in self._shapes:
                self._shapes.move_to_end(key)
                return self._shapes[key]
        built = _build(geometry)
        if len(key) <= self.largest:
            with self._lock:
                if key not in self._shapes:
                    self._shapes[key] = built
                    self._size += len(key)
                while self._size > self.budget:
                    old, _ = self._shapes.popitem(last=False)
                    self._size -= len(old)
        return built

    def __len__(self) -> int:
        return len(self._shapes)


def _build(geometry: object) -> BaseGeometry | None:
    try:
        shape = checked_shape(geometry)
    except InvalidGeometry:
        return None
    return None if shape.is_empty else shape


_CACHE = ShapeCache()


def target_shape(geometry: object) -> BaseGeometry | None:
    """The checked, non-empty 2D shape of a GeoJSON geometry, None when it is not an RFC 7946
    geometry (or is empty), from the process-wide cache."""
    return _CACHE.shape(geometry)
