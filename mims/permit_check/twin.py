"""The permit check's digital twin: zoning plans and parcels kept in the context MIM.

The importer writes them as NGSI-LD entities (``twin_entities``) with Batch Entity Upsert
(CIM 009 clause 6.15), and the check reads what lies at a footprint with a geo-query (clause
4.10, ``georel=intersects``) through Query Entities via POST (clause 6.23: one Query for every
type, and footprints of any size fit in its body), all over HTTP: the permit check shares no
database with the broker. ``context_url`` is the broker's base
URL (or the gateway's), without ``/ngsi-ld/v1``; headers such as ``Authorization`` or
``NGSILD-Tenant`` are the ``client``'s own (``twin_client`` gives one with client-credentials
tokens for a broker that checks them itself).

A re-imported zoning plan replaces the old one (``publish_plan``): its features are upserted
first, then those of the plan that the new import no longer has, found with a Query on their
``refZoningPlan`` (its inline @context ``{"oup": ...}`` lets q name it, nothing is fetched), are
removed with Batch Entity Delete (clause 6.17).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx
import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from mims.kit.auth.client_credentials import (
    TokenRequestFailed,
    client_credentials_client,
)
from mims.kit.geo.twin_entities import (
    OUP,
    PARCEL,
    TERMS,
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
from mims.kit.problems import ProblemError, ProblemItem
from mims.permit_check.settings import PermitCheckSettings

__all__ = ["AtFootprint", "PlanChanges", "delete_plan", "parcel_entities", "plan_entities", "publish", "publish_plan", "twin_client",
           "zoning_at", "zoning_at_many", "zoning_plans"]

API = "/ngsi-ld/v1"
BATCH_SIZE = 200
"""Entities per upsert or delete request."""
READ, WRITE = "context:read", "context:write"
"""The context MIM's scopes: to query, and to upsert or delete."""
CREDENTIAL_SETTINGS = "OUP_PERMIT_CHECK_CLIENT_ID, OUP_PERMIT_CHECK_CLIENT_SECRET and OUP_PERMIT_CHECK_TOKEN_URL"
PAGE_SIZE = 1000
"""Entities asked for per query page; halved while the broker answers that it is over its maximum."""
CLUSTER = 250.0
"""Metres of the grid cells in which footprints checked together share one geo-query."""
SEARCH_BUFFER = 0.5
"""Metres the footprint is widened by for the WGS84 geo-query, so that no candidate is lost to
the difference between straight edges in RD and in WGS84; candidates are then decided exactly
in EPSG:28992."""


def twin_client(settings: PermitCheckSettings, scope: str) -> httpx.AsyncClient:
    """An HTTP client for the twin; with the settings' client credentials, its requests carry
    access tokens for ``scope`` (space-separated)."""
    if not settings.has_credentials:
        return httpx.AsyncClient(timeout=settings.context_timeout)
    assert settings.client_id and settings.client_secret and settings.token_url
    return client_credentials_client(token_url=settings.token_url, client_id=settings.client_id,
                                     client_secret=settings.client_secret.get_secret_value(), scope=scope,
                                     timeout=settings.context_timeout)


async def publish(client: httpx.AsyncClient, context_url: str, entities: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create or replace ``entities`` in the broker, ``BATCH_SIZE`` at a time; the ids of those
    it created.

    A batch the broker does not take in full raises ProblemError 502 naming each refused entity
    and why; batches sent before stay written (upsert again to complete).
    """
    url = f"{context_url.rstrip('/')}{API}/entityOperations/upsert"
    created: list[str] = []
    for start in range(0, len(entities), BATCH_SIZE):
        batch = list(entities[start:start + BATCH_SIZE])
        response = await _send(client, "POST", url, json=batch, headers={"Content-Type": "application/json"})
        if response.status_code == 201:
            created += response.json() if response.content else []
            continue
        if response.status_code == 204:
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
    return created


@dataclass(frozen=True)
class PlanChanges:
    """What re-importing a zoning plan did to its features in the twin."""

    added: int
    updated: int
    removed: int


async def publish_plan(client: httpx.AsyncClient, context_url: str, entities: Sequence[Mapping[str, Any]]) -> PlanChanges:
    """Make the twin hold exactly this plan (``plan_entities``: the plan, then its features).

    The entities are upserted first; only then are the plan's features that ``entities`` lacks
    deleted, so a failure half-way leaves old and new features, never fewer than either.
    """
    plan_id = entities[0]["id"]
    if entities[0]["type"] != type_iri(ZONING_PLAN):
        raise ValueError(f"the first entity must be the ZoningPlan, not {plan_id}")
    created = set(await publish(client, context_url, entities))
    features = {entity["id"] for entity in entities[1:]}
    stale = sorted(set(await _plan_feature_ids(client, context_url, plan_id)) - features)
    await _delete(client, context_url, stale)
    added = len(features & created)
    return PlanChanges(added=added, updated=len(features) - added, removed=len(stale))


async def delete_plan(client: httpx.AsyncClient, context_url: str, plan_idn: str) -> None:
    """Remove the zoning plan ``plan_idn`` (its IMRO idn) and its features from the twin. Features
    go first: a failure half-way leaves the plan findable, so a repeated delete finishes the job."""
    plan_entity = entity_id(ZONING_PLAN, plan_idn)
    await _delete(client, context_url, [*await _plan_feature_ids(client, context_url, plan_entity), plan_entity])


async def _plan_feature_ids(client: httpx.AsyncClient, context_url: str, plan_id: str) -> list[str]:
    """The ids of the zoning features whose ``refZoningPlan`` is ``plan_id``."""
    query = {"type": "Query", "entities": [{"type": type_iri(name)} for name in ZONING_FEATURE_TYPES],
             "q": f"oup:refZoningPlan=={json.dumps(plan_id)}", "@context": [{"oup": OUP}]}
    return [entity["id"] for entity in await _query(client, context_url, query, pick="id")]


async def _delete(client: httpx.AsyncClient, context_url: str, ids: Sequence[str]) -> None:
    """Delete entities, ``BATCH_SIZE`` at a time; those already gone count as deleted."""
    url = f"{context_url.rstrip('/')}{API}/entityOperations/delete"
    for start in range(0, len(ids), BATCH_SIZE):
        batch = list(ids[start:start + BATCH_SIZE])
        response = await _send(client, "POST", url, json=batch, headers={"Content-Type": "application/json"})
        if response.status_code == 204:
            continue
        if response.status_code != 207:
            raise _upstream(url, response)
        failed = [e for e in response.json().get("errors", []) if "ResourceNotFound" not in str((e.get("error") or {}).get("type"))]
        if failed:
            raise ProblemError(status=502, title="The digital twin did not delete entities",
                               detail=f"{url} did not delete {len(failed)} of {len(batch)} entities, first "
                                      f"{failed[0].get('entityId')}: {_reason(failed[0].get('error'))}")


_PARCEL_TYPE = type_iri(PARCEL)
_AT_FOOTPRINT = [{"type": type_iri(name)} for name in (*ZONING_FEATURE_TYPES, PARCEL)]
"""The entity types a check reads at a footprint: every zoning feature type and parcels."""


@dataclass
class AtFootprint:
    """What the twin has at one footprint: zoning-plan@1.0.0 features and parcels ``{reference,
    geometry}`` that intersect it (EPSG:28992), and each feature's geometry as read (shapely), in
    the order of the features, so that a check need not read them again."""

    features: list[dict[str, Any]] = field(default_factory=list)
    parcels: list[dict[str, Any]] = field(default_factory=list)
    geometries: list[BaseGeometry] = field(default_factory=list)


async def zoning_at(
    client: httpx.AsyncClient, context_url: str, footprint_rd: Mapping[str, Any] | BaseGeometry,
    statuses: dict[str, str | None] | None = None, geometries: list[BaseGeometry] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The zoning-plan@1.0.0 features and the parcels ``{reference, geometry}`` that intersect a
    footprint (GeoJSON Polygon or MultiPolygon in EPSG:28992), geometries in EPSG:28992.

    Features of every plan in the twin are returned, whatever its status; each cites its plan
    (``cites.plan``, see ``zoning_plans`` for the plan's status). ``statuses``: see
    ``zoning_at_many``. ``geometries``, when given, gets each returned feature's geometry as read.
    """
    [found] = await zoning_at_many(client, context_url, [_footprint(footprint_rd)], statuses)
    if geometries is not None:
        geometries += found.geometries
    return found.features, found.parcels


async def zoning_at_many(
    client: httpx.AsyncClient, context_url: str, footprints: Sequence[BaseGeometry],
    statuses: dict[str, str | None] | None = None,
) -> list[AtFootprint]:
    """What the twin has at each of ``footprints`` (valid polygons in EPSG:28992), in their order.

    Footprints whose centroids share a ``CLUSTER`` metre grid cell are asked for together, with
    one geo-query on the union of their widened outlines, and what it returns is then matched to
    each footprint exactly in EPSG:28992. ``statuses``, when given, gets the planstatus the found
    features' entities record, by plan idn: None where they lack one or disagree (a re-import under
    way), so that ``zoning_plans`` is asked only for those plans.
    """
    found = [AtFootprint() for _ in footprints]
    clusters: dict[tuple[int, int], list[int]] = {}
    for index, footprint in enumerate(footprints):
        centre = footprint.centroid
        clusters.setdefault((int(centre.x // CLUSTER), int(centre.y // CLUSTER)), []).append(index)
    for members in clusters.values():
        # mitred corners: a few vertices that cover the round buffer, so a smaller query to send and test
        outline = shapely.union_all([footprints[i].buffer(SEARCH_BUFFER, join_style="mitre") for i in members])
        area = to_wgs84(outline.simplify(SEARCH_BUFFER / 2))
        geo = {"georel": "intersects", "geometry": area.geom_type, "coordinates": mapping(area)["coordinates"]}
        for entity in await _query(client, context_url, {"type": "Query", "entities": _AT_FOOTPRINT, "geoQ": geo}):
            is_parcel = entity["type"] == _PARCEL_TYPE
            item = parcel_of(entity) if is_parcel else feature_of(entity)
            geometry = shape(item["geometry"])
            hits = [i for i in members if footprints[i].intersects(geometry)]
            for i in hits:
                if is_parcel:
                    found[i].parcels.append(item)
                else:
                    found[i].features.append(item)
                    found[i].geometries.append(geometry)
            if hits and not is_parcel and statuses is not None:
                status, plan = (entity.get(TERMS["status"]) or {}).get("value"), item["cites"]["plan"]
                statuses[plan] = status if statuses.get(plan, status) == status else None
    return found


async def zoning_plans(client: httpx.AsyncClient, context_url: str, plan_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The zoning-plan@1.0.0 documents (without features: name, status, date, municipality, plan
    area) of the plans with these IMRO idns that the twin holds, by idn."""
    selectors = [{"id": entity_id(ZONING_PLAN, idn), "type": type_iri(ZONING_PLAN)} for idn in dict.fromkeys(plan_ids)]
    if not selectors:
        return {}
    plans = [plan_of(entity) for entity in await _query(client, context_url, {"type": "Query", "entities": selectors})]
    return {plan["id"]: plan for plan in plans}


async def _query(client: httpx.AsyncClient, context_url: str, query: dict[str, Any], pick: str | None = None) -> list[dict[str, Any]]:
    """Every entity a Query selects (normalized form, without ``location``; with only the ``pick``
    attributes when given), page by page. A Query with an ``@context`` goes as JSON-LD."""
    found: list[dict[str, Any]] = []
    limit = PAGE_SIZE
    body = orjson.dumps(query)
    headers = _JSON_LD if "@context" in query else _JSON
    while True:
        url = _query_url(context_url, limit, len(found), pick)
        response = await _send(client, "POST", url, content=body, headers=headers)
        if response.status_code == 403 and limit > 1 and "TooManyResults" in response.text:
            limit //= 2
            continue
        if response.status_code != 200:
            raise _upstream(str(url.copy_with(query=None)), response)
        page = orjson.loads(response.content)
        found += page
        if len(page) < limit:
            return found


_JSON = {"Accept": "application/json", "Content-Type": "application/json"}
_JSON_LD = {"Accept": "application/json", "Content-Type": "application/ld+json"}


@lru_cache(maxsize=256)
def _query_url(context_url: str, limit: int, offset: int, pick: str | None) -> httpx.URL:
    """The Query Entities URL of a page, parsed once (a check asks for the same first page each time)."""
    params = {"limit": str(limit), "offset": str(offset), **({"pick": pick} if pick else {"omit": "location"})}
    return httpx.URL(f"{context_url.rstrip('/')}{API}/entityOperations/query", params=params)


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


async def _send(client: httpx.AsyncClient, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        where = url.copy_with(query=None) if isinstance(url, httpx.URL) else url
        raise TwinUnreachable(status=502, title="The digital twin is unreachable",
                              detail=f"{method} {where} failed: {type(error).__name__} {error}".strip()) from None
    except TokenRequestFailed as error:
        title = "The token endpoint refused the permit check's credentials" if error.error else "The token endpoint gave no access token"
        raise ProblemError(status=502, title=title,
                           detail=f"{error.token_url} gave client {error.client_id!r} no access token ({error.reason}); "
                                  f"check {CREDENTIAL_SETTINGS}") from None


def _upstream(url: str, response: httpx.Response) -> ProblemError:
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    if response.status_code in (401, 403):
        scope = READ if url.endswith("/query") else WRITE
        sent = "its token" if "authorization" in response.request.headers else "no token (no client credentials set)"
        return ProblemError(status=502, title="The digital twin refused the permit check's credentials",
                            detail=f"{url} answered {response.status_code} to {sent}: {_reason(body)}; set "
                                   f"{CREDENTIAL_SETTINGS} to a client of the identity MIM with the scope {scope}")
    return ProblemError(status=502, title="The digital twin answered with an error",
                        detail=f"{url} answered {response.status_code}: {_reason(body)}")


def _reason(problem: Any) -> str:
    """The title and detail of an NGSI-LD / RFC 9457 problem, or the text as it came."""
    if isinstance(problem, Mapping):
        return ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k)) or str(problem)
    return str(problem)

