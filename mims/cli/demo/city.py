"""What a city's demo holds: layers of digital-twin entities (with history where observed),
zoning plans for the permit check, and catalogue entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import shapely
from shapely.geometry import shape

from mims.cli.demo.catalogue import DatasetEntry


@dataclass(slots=True)
class Layer:
    """Entities of one type. ``type_iri`` is the type's full IRI (queries need no @context);
    ``histories`` are temporal representations of them, written once when the entity is new."""

    kind: str
    type_iri: str
    entities: list[dict[str, Any]]
    histories: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class CityDemo:
    name: str
    layers: list[Layer]
    zoning_plans: list[dict[str, Any]]
    datasets: list[DatasetEntry]


def data_file(name: str) -> bytes:
    """A data file shipped with the package (see data/README.md for sources and licences)."""
    return resources.files(__package__).joinpath("data").joinpath(name).read_bytes()


def bbox_of(entities: list[dict[str, Any]], margin: float = 0.0) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of the entities' ``location``, widened by ``margin`` degrees."""
    bounds = shapely.union_all([shape(entity["location"]["value"]) for entity in entities]).bounds
    return (round(bounds[0] - margin, 5), round(bounds[1] - margin, 5), round(bounds[2] + margin, 5),
            round(bounds[3] + margin, 5))
