"""The permit check's digital twin: zoning plans and parcels kept in the context MIM.

The importer writes them as NGSI-LD entities (``twin_entities``) with Batch Entity Upsert
(CIM 009 clause 6.15), and the check reads what lies at a footprint with a geo-query (clause
4.10, ``georel=intersects``) through Query Entities via POST (clause 6.23: one Query for every
type, and footprints of any size fit in its body), all over HTTP: the permit check shares no
database with the broker. ``context_url`` is the broker's base
URL (or the gateway's), without ``/ngsi-ld/v1``; headers such as ``Authorization`` or
``NGSILD-Tenant`` are the ``client``'s own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from mims.kit.problems import ProblemError, ProblemItem
from mims.permit_check.twin_entities import (
    PARCEL,
    ZONING_FEATURE_TYPES,
    ZONING_PLAN,
    entity_id,
    feature_of,
    parcel_entities,
    parcel_of,
    plan_entities,
    plan_of,
    to_wgs84,
    type_iri,
)

__all__ = ["parcel_entities", "plan_entities", "publish", "zoning_at", "zoning_plans"]

API = "/ngsi-ld/v1"
BATCH_SIZE = 200
"""Entities per upsert request."""
PAGE_SIZE = 1000
"""Entities asked for per query page; halved while the broker answers that it is over its maximum."""
SEARCH_BUFFER = 0.5
"""Metres the footprint is widened by for the WGS84 geo-query, so that no candidate is lost to
the difference between straight edges in RD and in WGS84; candidates are then decided exactly
in EPSG:28992."""


async def publish(client: httpx.AsyncClient, context_url: str, entities: Sequence[Mapping[str, Any]]) -> None:
    """Create or replace ``entities`` in the broker, ``BATCH_SIZE`` at a time.

    A batch the broker does not take in full raises ProblemError 502 naming each refused entity
    and why; batches sent before stay written (upsert again to complete).
    """
    url = f"{context_url.rstrip('/')}{API}/entityOperations/upsert"
    for start in range(0, len(entities), BATCH_SIZE):
        batch = list(entities[start:start + BATCH_SIZE])
        response = await _send(client, "POST", url, json=batch, headers={"Content-Type": "application/json"})
        if response.status_code in (201, 204):
            continue
        if response.status_code != 207:
            raise _upstream(url, response)
        index = {entity["id"]: start + i for i, entity in enumerate(batch)}
        refused = [ProblemItem(pointer=f"/{index.get(e.get('entityId'), '-')}", detail=f"{e.get('entityId')}: {_reason(e.get('error'))}",
                               location=url) for e in response.json().get("errors", [])]
        raise ProblemError(
            status=502,
            title="The digital twin refused entities",
            detail=f"{url} refused {len(refused)} of the {len(batch)} entities from entity {start} on"
                   + (f", first {refused[0].detail}" if refused else ""),
            errors=refused,
        )


async def zoning_at(
    client: httpx.AsyncClient, context_url: str, footprint_rd: Mapping[str, Any] | BaseGeometry
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The zoning-plan@1.0.0 features and the parcels ``{reference, geometry}`` that intersect a
    footprint (GeoJSON Polygon or MultiPolygon in EPSG:28992), geometries in EPSG:28992.

    Features of every plan in the twin are returned, whatever its status; each cites its plan
    (``cites.plan``, see ``zoning_plans`` for the plan's status).
    """
    footprint = _footprint(footprint_rd)
    area = to_wgs84(footprint.buffer(SEARCH_BUFFER).simplify(SEARCH_BUFFER / 2))
    geo = {"georel": "intersects", "geometry": area.geom_type, "coordinates": mapping(area)["coordinates"]}
    selectors = [{"type": type_iri(name)} for name in (*ZONING_FEATURE_TYPES, PARCEL)]
    features, parcels = [], []
    for entity in await _query(client, context_url, {"type": "Query", "entities": selectors, "geoQ": geo}):
        found = parcel_of(entity) if entity["type"] == type_iri(PARCEL) else feature_of(entity)
        if footprint.intersects(shape(found["geometry"])):
            (parcels if entity["type"] == type_iri(PARCEL) else features).append(found)
    return features, parcels


async def zoning_plans(client: httpx.AsyncClient, context_url: str, plan_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The zoning-plan@1.0.0 documents (without features: name, status, date, municipality, plan
    area) of the plans with these IMRO idns that the twin holds, by idn."""
    selectors = [{"id": entity_id(ZONING_PLAN, idn), "type": type_iri(ZONING_PLAN)} for idn in dict.fromkeys(plan_ids)]
    if not selectors:
        return {}
    plans = [plan_of(entity) for entity in await _query(client, context_url, {"type": "Query", "entities": selectors})]
    return {plan["id"]: plan for plan in plans}


async def _query(client: httpx.AsyncClient, context_url: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entity a Query selects (normalized form, without ``location``), page by page."""
    url = f"{context_url.rstrip('/')}{API}/entityOperations/query"
    found: list[dict[str, Any]] = []
    limit = PAGE_SIZE
    while True:
        params = {"limit": str(limit), "offset": str(len(found)), "omit": "location"}
        response = await _send(client, "POST", url, params=params, json=query, headers={"Accept": "application/json"})
        if response.status_code == 403 and limit > 1 and "TooManyResults" in response.text:
            limit //= 2
            continue
        if response.status_code != 200:
            raise _upstream(url, response)
        page = response.json()
        found += page
        if len(page) < limit:
            return found


def _footprint(footprint: Mapping[str, Any] | BaseGeometry) -> BaseGeometry:
    try:
        geometry = footprint if isinstance(footprint, BaseGeometry) else shape(footprint)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        geometry = None
    if not isinstance(geometry, (Polygon, MultiPolygon)) or geometry.is_empty or not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry) if isinstance(geometry, BaseGeometry) else "not a GeoJSON geometry"
        raise ProblemError(status=422, title="Not a footprint", detail=f"the footprint must be a valid Polygon or MultiPolygon in EPSG:28992 ({reason})",
                           errors=[ProblemItem(pointer="/footprint", detail=f"not a valid Polygon or MultiPolygon: {reason}")])
    return geometry


class TwinUnreachable(ProblemError):
    """The context MIM could not be reached (502 here; a service may answer 503 instead)."""


async def _send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise TwinUnreachable(status=502, title="The digital twin is unreachable",
                              detail=f"{method} {url} failed: {type(error).__name__} {error}".strip()) from None


def _upstream(url: str, response: httpx.Response) -> ProblemError:
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    return ProblemError(status=502, title="The digital twin answered with an error",
                        detail=f"{url} answered {response.status_code}: {_reason(body)}")


def _reason(problem: Any) -> str:
    """The title and detail of an NGSI-LD / RFC 9457 problem, or the text as it came."""
    if isinstance(problem, Mapping):
        return ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k)) or str(problem)
    return str(problem)

