"""The two parties of the marketplace checks and the test data they make.

A marketplace tells its provider (scope ``marketplace:publish``) from a consumer (the client that
starts a negotiation), so the contract checks need two clients: the target's own credentials act
as the publisher, and ``--option consumer_token=...`` or ``--option consumer_client_id=...
consumer_client_secret=...`` (tokens from ``--token-url``, scope ``marketplace:consume``) supply
the consumer. Grants are read with ``--option grants_token=...``, or a token of ``--option
grants_client_id=... --option grants_client_secret=...``, or, failing that, of the run's own client,
for scope ``marketplace:grants``.

Everything published here has a unique identity per run (a new dataset IRI, ``urn:uuid`` offer
uids) and is withdrawn afterwards where the API allows it.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import ppi_schemas
from conformance.checks.common import body
from conformance.session import Session, TokenUnavailable

PUBLISH = "marketplace:publish"
CONSUME = "marketplace:consume"
GRANTS = "marketplace:grants"
DATASET_PPI = "dcat-dataset@1.0.0"
OFFER_PPI = "odrl-offer@1.0.0"
GRANT_PPI = "access-grant@1.0.0"
TWIN_EXAMPLE = "rotterdam-buildings-digital-twin"
"""The valid dcat-dataset example with digital-twin data: its agreements get an access grant."""
RESEARCH = "https://w3id.org/dpv#AcademicResearch"

async def publisher(session: Session) -> dict[str, str]:
    """Authorization of the provider: the target's own credentials with ``marketplace:publish``."""
    return {"Authorization": f"Bearer {await session.token(PUBLISH)}"}


async def consumer(session: Session) -> dict[str, str]:
    """Authorization of a consumer other than the publisher; the check is not run when the operator
    named none (the options in this module's docstring)."""
    token = await session.party_token("consumer", CONSUME)
    if token is None:
        session.needs("a consumer client is needed besides the publisher: give --option consumer_token=... or "
                      "--option consumer_client_id=... --option consumer_client_secret=... (with --token-url)")
    return {"Authorization": f"Bearer {token}"}


async def grants_party(session: Session) -> dict[str, str]:
    """Authorization with ``marketplace:grants`` (reading grants, posting usage as a gateway does):
    ``--option grants_token``, or a token of ``grants_client_id``/``grants_client_secret``, or the
    run's own client's; the check is not run, saying what to give, when none can be had."""
    try:
        token = await session.party_token("grants", GRANTS) or await session.token(GRANTS)
    except TokenUnavailable:
        session.needs("reading grants and posting usage needs scope marketplace:grants: give --option "
                      "grants_token=..., or --option grants_client_id=... --option grants_client_secret=... of a "
                      "client that may request it")
    return {"Authorization": f"Bearer {token}"}


def example(ppi: str, name: str) -> Any:
    """A fresh copy of one valid example of ``ppi``."""
    for one in ppi_schemas.get(ppi).examples_valid:
        if one.name == name:
            return copy.deepcopy(one.payload)
    raise LookupError(f"{ppi} has no valid example {name}")


def unique_urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


async def publish_dataset(session: Session, name: str = TWIN_EXAMPLE, document: Any = None) -> tuple[str, str]:
    """Publishes a dcat-dataset (the named valid example unless ``document``), titled uniquely;
    its IRI and its id (the IRI's last segment)."""
    document = copy.deepcopy(document) if document is not None else example(DATASET_PPI, name)
    if isinstance(document, dict) and isinstance(document.get("title"), dict):
        document["title"] = {lang: f"{text} ({uuid.uuid4().hex[:8]})" for lang, text in document["title"].items()}
    answer = await session.http.post("/datasets", json=document, headers=await publisher(session))
    session.expect(answer.status_code == 201, f"POST /datasets with the valid {DATASET_PPI} example {name} answered "
                   f"{answer.status_code}, expected 201: {answer.text[:300]!r}")
    iri = _member(answer, "@id") or answer.headers.get("location")
    session.expect(isinstance(iri, str) and iri, "POST /datasets answered 201 with neither an @id nor a Location")
    return iri, iri.rstrip("/").rsplit("/", 1)[-1]


async def withdraw_dataset(session: Session, dataset_id: str) -> None:
    """Cleans up: DELETE /datasets/{id}; a failure here is not the check's subject."""
    await session.http.delete(f"/datasets/{dataset_id}", headers=await publisher(session))


def offer_document(dataset_iri: str, *, constrained: bool = True) -> dict[str, Any]:
    """An ODRL offer on the dataset with a fresh uid. ``constrained``: use for academic research, at
    most 10 times, so no open-data shortcut finalizes it and the parties negotiate each step."""
    permission: dict[str, Any] = {"action": "use"}
    if constrained:
        permission["constraint"] = [
            {"leftOperand": "purpose", "operator": "eq", "rightOperand": RESEARCH},
            {"leftOperand": "count", "operator": "lteq", "rightOperand": 10},
        ]
    return {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer", "uid": unique_urn(),
            "assigner": "https://conformance.example/provider", "target": dataset_iri, "permission": [permission]}


async def publish_offer(session: Session, dataset_id: str, offer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Puts ``offer`` on the dataset; the offer's location path and the answer's document."""
    answer = await session.http.post(f"/datasets/{dataset_id}/offers", json=offer, headers=await publisher(session))
    session.expect(answer.status_code == 201, f"POST /datasets/{dataset_id}/offers with a valid ODRL offer answered "
                   f"{answer.status_code}, expected 201: {answer.text[:300]!r}")
    location = answer.headers.get("location", "")
    return location, body(answer)


def state(document: Any) -> str:
    """A negotiation's state, tolerating the prefixed and IRI forms DSP serializations use
    (``dspace:state``, ``dspace:REQUESTED``, a full IRI)."""
    if not isinstance(document, dict):
        return ""
    value = document.get("state", document.get("dspace:state", ""))
    value = value.get("@id", "") if isinstance(value, dict) else str(value)
    for separator in ("#", "/", ":"):
        value = value.rsplit(separator, 1)[-1]
    return value.upper()


def provider_pid(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    return str(document.get("providerPid", document.get("dspace:providerPid", "")))


def _member(answer: Any, name: str) -> Any:
    try:
        document = answer.json()
    except ValueError:
        return None
    return document.get(name) if isinstance(document, dict) else None
