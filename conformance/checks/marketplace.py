"""Marketplace checks: the DCAT-AP 3.0.1 catalogue (SHACL), the PPIs ``dcat-dataset`` and
``odrl-offer`` (profile ``mim``), and, in ``marketplace_contracts``, Dataspace Protocol negotiation,
ODRL offers and access grants, and in ``marketplace_metering``, usage records.

Options (``--option key=value``):

* ``consumer_token``: an access token of a consumer client (not the publisher); or
* ``consumer_client_id`` and ``consumer_client_secret``: a consumer client, its tokens requested at
  ``--token-url`` with scope ``marketplace:consume``. Without either, the contract checks are not run.
* ``grants_token``, or ``grants_client_id`` and ``grants_client_secret``: a token with (a client
  allowed) ``marketplace:grants``, to read grants and post usage records as a gateway does; without
  them the target's own client is asked for that scope, and those checks are not run if it cannot
  have it.

The target's own credentials (``--token``, or ``--client-id``/``--client-secret``) act as the
publisher: they need ``marketplace:publish``.
"""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path
from typing import Any

import pyshacl
import rdflib
from rdflib.namespace import DCAT, RDF, SH

from conformance.checks import marketplace_contracts, marketplace_metering  # noqa: F401  (registers their checks)
from conformance.checks.common import body, conforms, examples_accepted, examples_refused
from conformance.checks.marketplace_parties import (
    DATASET_PPI,
    OFFER_PPI,
    offer_document,
    publish_dataset,
    publish_offer,
    publisher,
    unique_urn,
    withdraw_dataset,
)
from conformance.registry import check
from conformance.session import Session
from ppi_schemas.jsonld.loader import DocumentLoader
from ppi_schemas.jsonld.terms import unmapped_terms

DCAT_AP = Path(__file__).resolve().parents[1] / "data" / "dcat_ap"
"""SEMIC's DCAT-AP 3.0.1 shapes and JSON-LD context (``SOURCE.md`` there says where from)."""
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml"}
"""The RDF serializations asked for, in order: none needs a remote JSON-LD context to parse."""
SHOWN = 6


@cache
def shapes() -> rdflib.Graph:
    """Both shape files of the release. Five ``sh:property`` links in them name property shapes
    neither file defines (an upstream defect, see SOURCE.md); pyshacl refuses undefined shapes, so
    those links are dropped and every shape that is defined is applied."""
    graph = rdflib.Graph()
    graph.parse(DCAT_AP / "dcat-ap-SHACL.ttl")
    graph.parse(DCAT_AP / "dcat-ap-ranges.ttl")
    dangling = [(s, p, o) for s, p, o in graph.triples((None, SH.property, None)) if (o, SH.path, None) not in graph]
    for triple in dangling:
        graph.remove(triple)
    return graph


@cache
def loader() -> DocumentLoader:
    """Resolves the DCAT-AP context from the shipped copy, every PPI's context from the catalogue."""
    return DocumentLoader(preload_dir=DCAT_AP)


def violations(data: rdflib.Graph) -> list[str]:
    """Each SHACL violation of ``data``: focus node, path and message."""
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes())
    found = []
    for result in report.subjects(SH.resultSeverity, SH.Violation):
        focus, path = report.value(result, SH.focusNode), report.value(result, SH.resultPath)
        found.append(f"{focus} {path or ''}: {report.value(result, SH.resultMessage) or 'violation'}")
    return sorted(found)


async def catalogue_graph(session: Session) -> rdflib.Graph:
    """GET /catalog as RDF in the first serialization the target serves of Turtle, N-Triples, RDF/XML."""
    answers = []
    for media_type, syntax in RDF_TYPES.items():
        answer = await session.http.get("/catalog", headers={"Accept": media_type})
        served = answer.headers.get("content-type", "").split(";")[0].strip()
        if answer.status_code == 200 and served == media_type:
            graph = rdflib.Graph()
            try:
                graph.parse(data=answer.text, format=syntax)
            except Exception as error:  # noqa: BLE001  (any parser error is the target's fault)
                session.fail(f"GET /catalog as {media_type} does not parse: {type(error).__name__}: {error}"[:500])
            if media_type != "text/turtle":
                session.note(f"GET /catalog is not served as Turtle; validated its {media_type}")
            return graph
        answers.append(f"{media_type}: {answer.status_code} {served}")
    session.fail("GET /catalog is served in none of Turtle, N-Triples, RDF/XML: " + "; ".join(answers))


@check("marketplace.catalogue.dcat_ap_shacl", "The catalogue, with a newly published dataset, conforms to the "
       "DCAT-AP 3.0.1 SHACL shapes", mim="marketplace", source="DCAT-AP 3.0.1 (SEMIC), SHACL shapes and range shapes")
async def dcat_ap_shacl(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)
    try:
        graph = await catalogue_graph(session)
        session.expect((None, RDF.type, DCAT.Catalog) in graph, "GET /catalog holds no dcat:Catalog")
        session.expect((rdflib.URIRef(iri), RDF.type, DCAT.Dataset) in graph, f"GET /catalog does not list the "
                       f"dataset just published, {iri}, as a dcat:Dataset")
        found = await asyncio.to_thread(violations, graph)
        session.expect(not found, f"{len(found)} DCAT-AP SHACL violations in GET /catalog ({len(graph)} triples): "
                       + "; ".join(found[:SHOWN]))
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.ppi.dataset_examples_accepted", f"Every valid {DATASET_PPI} example is published (201)",
       mim="marketplace", profile="mim", source=f"PPI {DATASET_PPI}")
async def dataset_examples_accepted(session: Session) -> None:
    published: list[str] = []

    async def send(payload: Any, name: str) -> Any:
        answer = await session.http.post("/datasets", json=payload, headers=await publisher(session))
        if answer.status_code == 201:
            document = body(answer)
            published.append(str(document.get("@id") or answer.headers.get("location", "")))
            _no_dropped_terms(session, document, f"the published dataset {name}")
        return answer

    try:
        await examples_accepted(session, DATASET_PPI, send, statuses=(201,))
    finally:
        for iri in published:
            await withdraw_dataset(session, iri.rstrip("/").rsplit("/", 1)[-1])


@check("marketplace.ppi.dataset_examples_refused", f"Every invalid {DATASET_PPI} example is refused with 4xx "
       "problem+json", mim="marketplace", profile="mim", source=f"PPI {DATASET_PPI}; RFC 9457")
async def dataset_examples_refused(session: Session) -> None:
    async def send(payload: Any, name: str) -> Any:
        return await session.http.post("/datasets", json=payload, headers=await publisher(session))

    await examples_refused(session, DATASET_PPI, send)


def _offer_example(payload: Any, dataset_iri: str) -> Any:
    """The example made to fit this target: on the check's dataset (where it names a target) and
    with a uid unique to this run."""
    if isinstance(payload, dict):
        payload = dict(payload, uid=unique_urn())
        if "target" in payload:
            payload["target"] = dataset_iri
    return payload


@check("marketplace.ppi.offer_examples_accepted", f"Every valid {OFFER_PPI} example is accepted as an offer, and "
       "served back valid", mim="marketplace", profile="mim", source=f"PPI {OFFER_PPI}")
async def offer_examples_accepted(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)

    async def send(payload: Any, name: str) -> Any:
        answer = await session.http.post(f"/datasets/{dataset_id}/offers", json=_offer_example(payload, iri),
                                         headers=await publisher(session))
        if answer.status_code == 201:
            conforms(session, body(answer), OFFER_PPI, f"the offer made from example {name}")
            _no_dropped_terms(session, body(answer), f"the offer made from example {name}")
        return answer

    try:
        await examples_accepted(session, OFFER_PPI, send, statuses=(201,))
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.ppi.offer_examples_refused", f"Every invalid {OFFER_PPI} example is refused with 4xx "
       "problem+json", mim="marketplace", profile="mim", source=f"PPI {OFFER_PPI}; RFC 9457")
async def offer_examples_refused(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)

    async def send(payload: Any, name: str) -> Any:
        return await session.http.post(f"/datasets/{dataset_id}/offers", json=_offer_example(payload, iri),
                                       headers=await publisher(session))

    try:
        await examples_refused(session, OFFER_PPI, send)
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.jsonld.no_dropped_terms", "The dataset, catalogue and offer JSON-LD documents expand with no "
       "dropped term", mim="marketplace", profile="mim", source="JSON-LD 1.1 API §5.1.2; DCAT-AP 3.0.1 context")
async def no_dropped_terms(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)
    try:
        dataset = await session.http.get(f"/datasets/{dataset_id}", headers={"Accept": "application/ld+json"})
        session.expect(dataset.status_code == 200, f"GET /datasets/{{id}} answered {dataset.status_code}")
        _no_dropped_terms(session, body(dataset), "GET /datasets/{id}")
        catalogue = await session.http.get("/catalog", headers={"Accept": "application/ld+json"})
        session.expect(catalogue.status_code == 200, f"GET /catalog as JSON-LD answered {catalogue.status_code}")
        _no_dropped_terms(session, body(catalogue), "GET /catalog")
        await publish_offer(session, dataset_id, offer_document(iri))
        offers = await session.http.get(f"/datasets/{dataset_id}/offers")
        for offer in body(offers).get("offers", []):
            _no_dropped_terms(session, offer, "an offer of GET /datasets/{id}/offers")
    finally:
        await withdraw_dataset(session, dataset_id)


def _no_dropped_terms(session: Session, document: Any, what: str) -> None:
    try:
        dropped = unmapped_terms(document, loader=loader())
    except Exception as error:  # noqa: BLE001  (a context that cannot be had is the target's to fix)
        session.fail(f"{what}: its JSON-LD cannot be expanded: {type(error).__name__}: {error}"[:500])
    session.expect(not dropped, f"{what}: JSON-LD expansion drops " + ", ".join(
        f"{term.pointer} ({term.term})" for term in dropped[:8]))
