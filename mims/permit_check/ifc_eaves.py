"""The eaves height (goothoogte) of an IFC building, measured as SVBP2012 does: from ground level to
the top of the gutter, drip line, fascia or a comparable part of the construction.

- Roof parts: IfcRoof, the elements that decompose an IfcRoof, IfcSlab with PredefinedType ROOF and
  IfcCovering ROOFING. Superstructures (IfcRailing, IfcChimney) are no roof parts and never count.
- Pitched: where the roof parts have sloped faces (between ``MIN_SLOPE`` and ``MAX_SLOPE`` from
  horizontal), the lowest point of those faces: the foot of the sloped roof, its eaves.
- Flat: where the roof parts have no sloped faces, the top of the roof edge: the highest point of the
  building elements other than superstructures (the building's height without railings and
  chimneys), which takes in a parapet or fascia standing above the roof slab.
- None: no roof parts in the building, or an IfcRoof whose type says it is sloped without sloped
  geometry to measure. The eaves height is then left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ifcopenshell
import ifcopenshell.util.element
import numpy as np

SUPERSTRUCTURES = ("IfcRailing", "IfcChimney")
MIN_SLOPE, MAX_SLOPE = 5.0, 85.0  # degrees: flatter faces are flat roof, steeper ones walls and edges

Shapes = Mapping[int, tuple[np.ndarray, np.ndarray]]


def is_roof(element: ifcopenshell.entity_instance) -> bool:
    """IfcRoof, a part of one, a roof slab or roofing."""
    if element.is_a("IfcRoof"):
        return True
    kind = ifcopenshell.util.element.get_predefined_type(element)
    if (element.is_a("IfcSlab") and kind == "ROOF") or (element.is_a("IfcCovering") and kind == "ROOFING"):
        return True
    return any(rel.RelatingObject.is_a("IfcRoof") for rel in getattr(element, "Decomposes", []))


def is_superstructure(element: ifcopenshell.entity_instance) -> bool:
    return any(element.is_a(kind) for kind in SUPERSTRUCTURES)


def eaves_level(elements: Iterable[ifcopenshell.entity_instance], shapes: Shapes, sloped_type: bool) -> float | None:
    """The level of the eaves in world z (metres), or None; ``sloped_type``: an IfcRoof says the roof
    is pitched."""
    elements = list(elements)
    roof = [e for e in elements if is_roof(e)]
    if not roof:
        return None
    lows = [z for e in roof if e.id() in shapes for z in [_lowest_sloped(*shapes[e.id()])] if z is not None]
    if lows:
        return min(lows)
    if sloped_type:
        return None
    tops = [float(shapes[e.id()][0][:, 2].max()) for e in elements if e.id() in shapes and not is_superstructure(e)]
    return max(tops) if tops else None


def _lowest_sloped(vertices: np.ndarray, faces: np.ndarray) -> float | None:
    triangles = vertices[faces]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = lengths > 1e-12
    tilt = np.degrees(np.arccos(np.clip(np.abs(normals[keep, 2]) / lengths[keep], 0.0, 1.0)))
    sloped = triangles[keep][(tilt > MIN_SLOPE) & (tilt < MAX_SLOPE)]
    return float(sloped[:, :, 2].min()) if len(sloped) else None

