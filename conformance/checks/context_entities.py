"""NGSI-LD entity checks (profile ``standard``): create, retrieve, duplicate create, queries that
must really filter (``q`` and geo-queries), and the error types of refusals."""

from __future__ import annotations

import json

from conformance.checks.common import body
from conformance.checks.context_api import (
    ENTITIES, SAMPLER, SCOPE, SPEC, Created, call, entity_id, ids_of, location_id, ngsi_error, point, prop, unique_type)
from conformance.registry import check
from conformance.session import Session


@check("context.entities.create", "Create Entity answers 201 Created with a Location naming the entity",
       mim="context", source=f"{SPEC} §5.6.1, §6.4.3.1")
async def create(session: Session) -> None:
    session.note(SAMPLER)
    entity_type = unique_type("Create")
    entity = {"id": entity_id(entity_type), "type": entity_type, "name": prop("sampler")}
    async with Created(session) as created:
        answer = await created.entity(entity)
        named = location_id(session, answer, ENTITIES, "POST /entities")
        session.expect(named == entity["id"], f"Location names {named!r}; expected the entity {entity['id']!r}")


@check("context.entities.retrieve", "Retrieve Entity returns the entity as created",
       mim="context", source=f"{SPEC} §5.7.1, §6.5.3.1")
async def retrieve(session: Session) -> None:
    entity_type = unique_type("Retrieve")
    entity = {"id": entity_id(entity_type), "type": entity_type, "height": prop(42.5), "name": prop("Markthal"),
              "location": point(4.4861, 51.9200)}
    async with Created(session) as created:
        await created.entity(entity)
        answer = await call(session, "GET", f"{ENTITIES}/{entity['id']}")
        session.expect(answer.status_code == 200, f"GET of the entity just created answered {answer.status_code}")
        got = body(answer)
        session.expect(got.get("id") == entity["id"] and got.get("type") == entity_type,
                       f"got id {got.get('id')!r} type {got.get('type')!r}; expected {entity['id']!r} {entity_type!r}")
        for name in ("height", "name"):
            value = (got.get(name) or {}).get("value") if isinstance(got.get(name), dict) else got.get(name)
            session.expect(value == entity[name]["value"], f"attribute {name} came back as {got.get(name)!r}; "
                           f"expected value {entity[name]['value']!r}")
        location = got.get("location") or {}
        coordinates = (location.get("value") or {}).get("coordinates") if isinstance(location, dict) else None
        session.expect(coordinates == [4.4861, 51.92],
                       f"location came back as {location!r}")


@check("context.entities.duplicate", "Creating an existing entity is refused with 409 AlreadyExists",
       mim="context", source=f"{SPEC} §5.6.1, §6.4.3.1")
async def duplicate(session: Session) -> None:
    entity_type = unique_type("Duplicate")
    entity = {"id": entity_id(entity_type), "type": entity_type, "name": prop("first")}
    async with Created(session) as created:
        await created.entity(entity)
        again = await call(session, "POST", ENTITIES, {**entity, "name": prop("second")})
        ngsi_error(session, again, 409, ("AlreadyExists",), "a second POST /entities with the same id")
        kept = body(await call(session, "GET", f"{ENTITIES}/{entity['id']}"))
        session.expect((kept.get("name") or {}).get("value") == "first",
                       f"the refused duplicate changed the entity: name is now {kept.get('name')!r}")


@check("context.query.q", "Query Entities with q returns exactly the matching entities",
       mim="context", source=f"{SPEC} §4.9, §5.7.2, §6.4.3.2")
async def query_q(session: Session) -> None:
    entity_type = unique_type("Query")
    temperatures = {"cold": 10, "mild": 20, "warm": 30}
    async with Created(session) as created:
        ids = {}
        for name, temperature in temperatures.items():
            ids[name] = entity_id(entity_type, name)
            await created.entity({"id": ids[name], "type": entity_type, "temperature": prop(temperature),
                                  "category": prop(name)})
        ids["none"] = entity_id(entity_type, "none")
        await created.entity({"id": ids["none"], "type": entity_type, "category": prop("none")})
        answer = await call(session, "GET", ENTITIES, params={"type": entity_type})
        every = ids_of(session, answer, f"type={entity_type}")
        session.expect(every == set(ids.values()), f"type={entity_type} returned {sorted(every)}; "
                       f"expected the 4 entities just created")
        cases = {"temperature>15": {"mild", "warm"}, "temperature>15;temperature<25": {"mild"},
                 'category=="cold"': {"cold"}, "temperature>15|category==\"none\"": {"mild", "warm", "none"}}
        for q, names in cases.items():
            answer = await call(session, "GET", ENTITIES, params={"type": entity_type, "q": q})
            found = ids_of(session, answer, f"q={q}")
            expected = {ids[name] for name in names}
            session.expect(found == expected, f"q={q} returned {sorted(found)}; expected exactly {sorted(expected)}")


_GEO_QUERIES = (
    ("near;maxDistance==2000", "Point", [4.4700, 51.9200], {"centre", "nearby"}),
    ("within", "Polygon", [[[4.465, 51.915], [4.475, 51.915], [4.475, 51.923], [4.465, 51.923], [4.465, 51.915]]],
     {"centre"}),
    ("intersects", "Polygon", [[[4.465, 51.915], [4.49, 51.915], [4.49, 51.93], [4.465, 51.93], [4.465, 51.915]]],
     {"centre", "nearby"}),
)


@check("context.query.geo", "Geo-queries (near, within, intersects) return exactly the entities in range",
       mim="context", source=f"{SPEC} §4.10, §5.7.2, §6.4.3.2")
async def query_geo(session: Session) -> None:
    entity_type = unique_type("Geo")
    places = {"centre": (4.4700, 51.9200), "nearby": (4.4800, 51.9250), "far": (4.3000, 52.0700)}
    async with Created(session) as created:
        ids = {}
        for name, (longitude, latitude) in places.items():
            ids[name] = entity_id(entity_type, name)
            await created.entity({"id": ids[name], "type": entity_type, "location": point(longitude, latitude)})
        for georel, geometry, coordinates, names in _GEO_QUERIES:
            params = {"type": entity_type, "georel": georel, "geometry": geometry,
                      "coordinates": json.dumps(coordinates, separators=(",", ":"))}
            what = f"georel={georel} geometry={geometry}"
            found = ids_of(session, await call(session, "GET", ENTITIES, params=params), what)
            expected = {ids[name] for name in names}
            session.expect(found == expected, f"{what} returned {sorted(found)}; expected exactly {sorted(expected)}")


@check("context.errors.not_found", "An unknown entity is 404 ResourceNotFound on retrieve and delete",
       mim="context", source=f"{SPEC} §5.5.2, §6.5.3.1, §6.5.3.2")
async def not_found(session: Session) -> None:
    missing = entity_id(unique_type("Missing"))
    ngsi_error(session, await call(session, "GET", f"{ENTITIES}/{missing}"), 404, ("ResourceNotFound",),
               "GET of an entity that does not exist")
    ngsi_error(session, await call(session, "DELETE", f"{ENTITIES}/{missing}"), 404, ("ResourceNotFound",),
               "DELETE of an entity that does not exist")


@check("context.errors.invalid_request", "A body that is not JSON is 400 InvalidRequest",
       mim="context", source=f"{SPEC} §5.5.2, §6.3.2")
async def invalid_request(session: Session) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json", **await session.bearer(SCOPE)}
    answer = await session.http.post(ENTITIES, content=b'{"id": "urn:ngsi-ld:Broken:1", "type": ', headers=headers)
    ngsi_error(session, answer, 400, ("InvalidRequest",), "POST /entities with a truncated JSON body")


@check("context.errors.bad_request_data", "Entity data that breaks NGSI-LD rules is 400 BadRequestData",
       mim="context", source=f"{SPEC} §5.5.2, §5.6.1")
async def bad_request_data(session: Session) -> None:
    entity_type = unique_type("Bad")
    async with Created(session) as created:
        answer = await call(session, "POST", ENTITIES, {"id": f"not a uri {entity_type}", "type": entity_type})
        if answer.status_code == 201:
            created.entities.append(f"not a uri {entity_type}")
        ngsi_error(session, answer, 400, ("BadRequestData",), "POST /entities with an id that is not a URI")
        answer = await call(session, "GET", ENTITIES, params={"type": entity_type, "q": "temperature>>>1"})
        given = ngsi_error(session, answer, 400, ("BadRequestData", "InvalidRequest"), "a query with a malformed q")
        if given != "BadRequestData":
            session.note(f"a malformed q is refused as {given}; most brokers say BadRequestData")
