"""Region federation of the gateway (OUP contract, profile ``mim``): a region query asks this
city and every peer, and when a peer is down still answers with the others' results, naming the
failed peer in ``OUP-Region-Failed`` and those that answered in ``OUP-Region-Answered``."""

from __future__ import annotations

import re
import uuid
from typing import Any

from conformance.checks.common import body, conforms
from conformance.checks.gateway_ppi import entity_url, post_entity
from conformance.checks.gateway_support import (
    READ_SCOPE,
    WRITE_SCOPE,
    bearer_header,
    token_or_fail,
)
from conformance.registry import check
from conformance.session import Session

ENTITY = "ngsi-ld-entity@1.0.0"
REGION_ENTITIES = "/region/ngsi-ld/v1/entities"
REASONS = ("timeout", "unreachable", "circuit-open", "token", "invalid-response")
"""Why a peer gave no answer (``status-<code>`` besides), as the gateway's README lists them."""
CIRCUITS = ("closed", "open", "half-open")
_FAILED = re.compile(r'^\s*(?P<city>[^;,\s]+)\s*;\s*reason="?(?P<reason>[^",]+)"?\s*$')


async def region_status(session: Session, token: str) -> dict[str, Any]:
    """``/region/status``; a skip when the gateway has no region endpoints, not run when it has no peers."""
    answer = await session.http.get("/region/status", headers=bearer_header(token))
    if answer.status_code == 404:
        session.skip("the gateway has no /region/status: it is not federated")
    session.expect(answer.status_code == 200, f"GET /region/status answered {answer.status_code} "
                   f"{answer.text[:200]!r}")
    status = body(answer)
    session.expect(isinstance(status, dict) and isinstance(status.get("city"), str)
                   and isinstance(status.get("peers"), list),
                   f"GET /region/status should give its city and a list of peers, gave {answer.text[:200]!r}")
    if not status["peers"]:
        session.needs("the gateway has no peers (/region/status lists none): no partial failure to observe; "
                      "configure a peer and stop it, or name one that is down with --option down_peer=...")
    return status


def failed_peers(header: str) -> dict[str, str]:
    """``OUP-Region-Failed: delft;reason="timeout", leiden;reason="unreachable"`` by city."""
    failed = {}
    for item in filter(str.strip, header.split(",")):
        match = _FAILED.match(item)
        if match is None:
            raise ValueError(item)
        failed[match["city"]] = match["reason"]
    return failed


def city_of(entity: dict[str, Any]) -> Any:
    """The value of the entity's ``city`` Property (a plain value in simplified formats)."""
    tag = entity.get("city")
    return tag.get("value") if isinstance(tag, dict) else tag


@check("gateway.region.status", "/region/status shows each peer's circuit and last result",
       mim="gateway", source="OUP gateway federation (region status)", profile="mim")
async def status_shape(session: Session) -> None:
    token = await token_or_fail(session, READ_SCOPE, "reading /region/status")
    status = await region_status(session, token)
    for peer in status["peers"]:
        session.expect(isinstance(peer, dict) and isinstance(peer.get("name"), str) and peer["name"],
                       f"a peer of /region/status has no name: {peer!r}")
        session.expect(peer.get("circuit") in CIRCUITS, f"peer {peer['name']}: circuit {peer.get('circuit')!r} is "
                       f"not one of {', '.join(CIRCUITS)}")
        session.expect(isinstance(peer.get("consecutive_failures"), int) and peer["consecutive_failures"] >= 0,
                       f"peer {peer['name']}: consecutive_failures {peer.get('consecutive_failures')!r} is not a "
                       "count")


@check("gateway.region.partial-failure", "A region query answers with the reachable cities when a peer is down "
       "and reports the failed peer", mim="gateway", source="OUP gateway federation (OUP-Region-Answered, "
       "OUP-Region-Failed)", profile="mim")
async def partial_failure(session: Session) -> None:
    read = await token_or_fail(session, READ_SCOPE, "a region query")
    write = await token_or_fail(session, WRITE_SCOPE, "creating this city's probe entity")
    status = await region_status(session, read)
    city, peers = status["city"], {p["name"] for p in status["peers"] if isinstance(p, dict)}
    probe_type = f"ConformanceRegionProbe{uuid.uuid4().hex[:10]}"
    probe = {"id": f"urn:ngsi-ld:{probe_type}:1", "type": probe_type,
             "name": {"type": "Property", "value": "conformance suite probe"}}
    created = await post_entity(session, probe, write)
    session.expect(created.status_code == 201, f"creating the probe entity {probe['id']} through the gateway "
                   f"answered {created.status_code} {created.text[:200]!r}")
    try:
        answer = await session.http.get(REGION_ENTITIES, params={"type": probe_type, "limit": 100},
                                        headers=bearer_header(read))
    finally:
        await session.http.delete(entity_url(session, probe["id"]), headers=bearer_header(write))
    session.expect(answer.status_code == 200, f"GET {REGION_ENTITIES}?type={probe_type} answered "
                   f"{answer.status_code} {answer.text[:200]!r}; a failed peer must not fail the region query")
    try:
        failed = failed_peers(answer.headers.get("OUP-Region-Failed", ""))
    except ValueError as item:
        session.fail(f"OUP-Region-Failed names a peer as {str(item)!r}, not <city>;reason=\"<reason>\"")
    answered = [name.strip() for name in answer.headers.get("OUP-Region-Answered", "").split(",") if name.strip()]
    down = session.target.options.get("down_peer")
    if down:
        session.expect(down in failed, f"the peer {down}, which is down, is not in OUP-Region-Failed "
                       f"({answer.headers.get('OUP-Region-Failed', 'absent')!r})")
    missing = peers - set(answered) - set(failed)
    session.expect(not missing, f"peers neither answered nor reported failed: {', '.join(sorted(missing))} "
                   f"(OUP-Region-Answered {answered}, OUP-Region-Failed {sorted(failed)})")
    if not failed:
        session.needs(f"every peer answered ({', '.join(answered)}): no partial failure to observe; stop a peer, or "
                      "name one that is down with --option down_peer=...")
    for peer, reason in failed.items():
        session.expect(reason in REASONS or re.fullmatch(r"status-\d{3}", reason),
                       f"OUP-Region-Failed gives {peer} the reason {reason!r}, not one of {', '.join(REASONS)}, "
                       "status-<code>")
    session.expect(city in answered, f"this city ({city}) is not in OUP-Region-Answered ({answered})")
    session.expect(not set(answered) & set(failed), f"cities both answered and failed: {set(answered) & set(failed)}")
    entities = body(answer)
    session.expect(isinstance(entities, list), f"the region answer is not an array: {answer.text[:200]!r}")
    ours = [e for e in entities if isinstance(e, dict) and e.get("id") == probe["id"]]
    session.expect(ours, f"the region answer lacks this city's {probe['id']}: got {answer.text[:300]!r}")
    session.expect(ours[0].get("city") == {"type": "Property", "value": city},
                   f"this city's entity is tagged city={ours[0].get('city')!r}, expected the Property {city!r}")
    strangers = {str(e.get("city")) for e in entities if isinstance(e, dict) and city_of(e) not in answered}
    session.expect(not strangers, f"entities tagged with cities that did not answer: {', '.join(sorted(strangers))}")
    for entity in entities:
        conforms(session, entity, ENTITY, f"region entity {entity.get('id') if isinstance(entity, dict) else entity!r}")
