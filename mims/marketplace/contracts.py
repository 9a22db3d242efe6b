"""Contracts: offers on datasets, Dataspace Protocol negotiations, ODRL Agreements, access grants.

Plain Python; storage is anything implementing :class:`ContractStore`. The flow:

* a provider (scope ``marketplace:publish``) puts an ODRL offer (PPI ``odrl-offer``) on a dataset;
* a consumer requests it: the offer's purpose, recipient and spatial constraints are checked now
  against the consumer's request (``odrl.evaluate``), so a request the offer cannot permit is
  refused before any negotiation exists. Its dateTime constraints become the grant's validity
  window and its count constraint the grant's number of uses, both enforced at each use;
* the negotiation moves through the DSP states (``dsp.transition``); an open-data offer is agreed,
  verified and finalized at once (``dsp.automatic_steps``);
* AGREED makes the ODRL Agreement; FINALIZED makes the access grant (PPI ``access-grant``) that
  opens the dataset's digital-twin query at the gateway. A dataset without digital-twin data has
  nothing for the gateway to open: its agreements get no grant.
* terminating the agreement withdraws its grant; past the window's end it counts as expired.

Prohibitions constrained by dateTime or count cannot be decided when a negotiation starts; they
are left to the parties. Identifiers of negotiations, agreements and grants are ``urn:uuid`` IRIs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Protocol

from mims.kit.problems import ProblemError, ProblemItem
from mims.marketplace import dsp, odrl
from mims.marketplace.dcat import Catalogue, Dataset, DatasetNotFound, nul_pointer
from mims.marketplace.dsp import Role, State

OFFER_PPI = "odrl-offer@1.0.0"
GRANT_PPI = "access-grant@1.0.0"
DSP_CONTEXT = "https://w3id.org/dspace/2024/1/context.json"
PROV = "http://www.w3.org/ns/prov#"
XSD = "http://www.w3.org/2001/XMLSchema#"
GRANT_SCOPES = ("context:read",)
# What a grant lets the consumer do with the data at the gateway: read it.
GRANTED_ACTION = "read"
_DECIDED_AT_USE = frozenset({"dateTime", "count"})
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_MAX_TEXT = 2048
_MOVE_ATTEMPTS = 5
_TICK = timedelta(microseconds=1)
# Counts are kept as SQL INTEGER.
MAX_COUNT = 2**31 - 1
MAX_CLIENT_ID = 128  # as PPI access-grant bounds it


def problem(status: int, detail: str, *, errors: Sequence[ProblemItem] = (), **extensions: Any) -> ProblemError:
    return ProblemError(status, HTTPStatus(status).phrase, detail, errors=list(errors), extensions=extensions)


def invalid(pointer: str, reason: str) -> ProblemError:
    return problem(400, f"{pointer}: {reason}", errors=[ProblemItem(pointer, reason)])


def new_urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Party:
    """Who acts: a client, and whether it holds the provider's scope."""

    client_id: str
    provider: bool = False

    def is_consumer_of(self, consumer: str) -> bool:
        return self.client_id == consumer

    def may_see(self, consumer: str) -> bool:
        return self.provider or self.is_consumer_of(consumer)


@dataclass(frozen=True, slots=True)
class Offer:
    """A provider's ODRL offer on a catalogued dataset; ``id`` is the marketplace's, ``uid`` the publisher's."""

    id: str
    uid: str
    dataset_id: str
    document: Mapping[str, Any]
    created: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One move of a negotiation: the state reached, the party whose message caused it, when."""

    state: State
    by: Role
    message: str
    at: datetime
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        entry = {"state": self.state.value, "by": self.by.value, "message": self.message, "at": utc_text(self.at)}
        if self.reason is not None:
            entry["reason"] = self.reason
        return entry


@dataclass(frozen=True, slots=True)
class Negotiation:
    """A contract negotiation, provider side; ``offer`` is the offer currently on the table."""

    provider_pid: str
    consumer_pid: str
    consumer: str
    dataset_id: str
    dataset: str
    offer_id: str
    offer: Mapping[str, Any]
    state: State
    history: tuple[Event, ...]
    created: datetime
    purpose: str | None = None
    location: tuple[float, ...] | None = None
    agreement: str | None = None
    grant: str | None = None

    @property
    def version(self) -> int:
        """Moves made so far: a store updates a negotiation only at the version it was read."""
        return len(self.history)

    def document(self) -> dict[str, Any]:
        return {
            "@context": DSP_CONTEXT,
            "@type": "dspace:ContractNegotiation",
            "providerPid": self.provider_pid,
            "consumerPid": self.consumer_pid,
            "state": self.state.value,
            "consumer": self.consumer,
            "dataset": self.dataset,
            "offer": self.offer["uid"],
            "agreement": self.agreement,
            "grant": self.grant,
            "history": [event.to_dict() for event in self.history],
        }


@dataclass(frozen=True, slots=True)
class Agreement:
    """An ODRL Agreement as concluded, with the validity window its offer set."""

    uid: str
    negotiation: str
    consumer: str
    dataset: str
    document: Mapping[str, Any]
    created: datetime
    not_before: datetime
    not_after: datetime | None
    terminated: datetime | None = None
    reason: str | None = None

    def status(self, now: datetime) -> str:
        if self.terminated is not None:
            return "terminated"
        return "expired" if self.not_after is not None and now >= self.not_after else "active"

    def to_document(self, now: datetime) -> dict[str, Any]:
        """The Agreement with its provenance (PROV-O) and its status now."""
        document = dict(self.document)
        document["@context"] = [self.document["@context"], {"prov": PROV, "xsd": XSD}]
        document["prov:wasGeneratedBy"] = {"@id": self.negotiation}
        document["prov:generatedAtTime"] = {"@value": utc_text(self.created), "@type": "xsd:dateTime"}
        document["prov:wasAttributedTo"] = [self.document["assigner"], self.document["assignee"]]
        document["status"] = self.status(now)
        if self.terminated is not None:
            document["terminated"] = utc_text(self.terminated)
            if self.reason is not None:
                document["terminationReason"] = self.reason
        return document


@dataclass(frozen=True, slots=True)
class Grant:
    """What the gateway enforces for one finalized agreement; ``remaining`` None: unlimited."""

    grant_id: str
    agreement: str
    client_id: str
    dataset: str
    query: Mapping[str, Any]
    not_before: datetime
    not_after: datetime | None
    remaining: int | None
    uses: int = 0
    withdrawn: datetime | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why no use can be made now (withdrawn, expired, not_yet_valid), or None."""
        if self.withdrawn is not None:
            return "withdrawn"
        if self.not_after is not None and now >= self.not_after:
            return "expired"
        return "not_yet_valid" if now < self.not_before else None

    def to_ppi(self) -> dict[str, Any]:
        """The grant as PPI ``access-grant@1.0.0``."""
        return {
            "grant_id": self.grant_id,
            "agreement_id": self.agreement,
            "client_id": self.client_id,
            "dataset": self.dataset,
            "query": dict(self.query),
            "scopes": list(GRANT_SCOPES),
            "not_before": utc_text(self.not_before),
            "not_after": utc_text(self.not_after) if self.not_after is not None else None,
            "remaining": self.remaining,
            "status": "withdrawn" if self.withdrawn is not None else "active",
        }


@dataclass(frozen=True, slots=True)
class Changes:
    """What one stored move writes besides the negotiation: a new agreement and grant, or the
    termination of the negotiation's agreement."""

    agreement: Agreement | None = None
    grant: Grant | None = None
    terminate_agreement: bool = False


@dataclass(frozen=True, slots=True)
class Terms:
    """What an offer gives a consumer's request: the permission used, its window and its uses."""

    permission: odrl.Rule
    not_before: datetime | None
    not_after: datetime | None
    remaining: int | None


class ContractStore(Protocol):
    async def add_offer(self, offer: Offer) -> bool:
        """Store a new offer; False when its uid is taken."""
        ...

    async def offer(self, key: str) -> Offer | None:
        """The offer with this id or uid."""
        ...

    async def offers(self, dataset_id: str) -> list[Offer]: ...

    async def add_negotiation(self, negotiation: Negotiation, changes: Changes) -> None: ...

    async def negotiation(self, provider_pid: str) -> Negotiation | None: ...

    async def negotiations(self, consumer: str | None) -> list[Negotiation]:
        """All negotiations (None) or one consumer's, oldest first."""
        ...

    async def move(self, negotiation: Negotiation, version: int, changes: Changes) -> bool:
        """Replace the negotiation stored at ``version`` and write ``changes`` in one transaction;
        False (nothing written) when it has moved since."""
        ...

    async def agreement(self, uid: str) -> Agreement | None: ...

    async def agreements(self, consumer: str | None) -> list[Agreement]: ...

    async def terminate_agreement(self, uid: str, at: datetime, reason: str | None) -> bool:
        """Mark the agreement terminated and withdraw its grant; False if it already was."""
        ...

    async def grant(self, grant_id: str) -> Grant | None: ...

    async def grants(self, client_id: str | None) -> list[Grant]:
        """Grants not withdrawn, of one client or all."""
        ...

    async def take_uses(self, grant_id: str, uses: int) -> tuple[bool, int | None]:
        """Atomically take ``uses`` from a grant not withdrawn with that many left (or unlimited):
        (taken, remaining after)."""
        ...


class Contracts:
    """The use cases of offers, negotiations, agreements and grants."""

    def __init__(
        self,
        store: ContractStore,
        catalogue: Catalogue,
        dataset_iri: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._catalogue = catalogue
        self._dataset_iri = dataset_iri
        self._clock = clock

    def now(self) -> datetime:
        """The clock's time, in UTC (what is stored and compared)."""
        return self._clock().astimezone(UTC)

    # Offers

    async def publish_offer(self, dataset_id: str, document: Mapping[str, Any]) -> Offer:
        """Put an offer (already valid against its PPI) on a dataset; its target must be the dataset."""
        await self._dataset(dataset_id)
        policy = checked_offer(document)
        iri = self._dataset_iri(dataset_id)
        if policy.target != iri:
            raise invalid("/target", f"the offer must target the dataset it is put on, {iri}")
        offer = Offer(uuid.uuid4().hex[:16], policy.uid, dataset_id, policy.document, self.now())
        if not await self._store.add_offer(offer):
            raise problem(409, f"there already is an offer with uid {policy.uid}", uid=policy.uid)
        return offer

    async def offers(self, dataset_id: str) -> list[Offer]:
        await self._dataset(dataset_id)
        return await self._store.offers(dataset_id)

    async def offer(self, offer_id: str) -> Offer:
        offer = await self._store.offer(offer_id)
        if offer is None:
            raise problem(404, f"there is no offer {offer_id!r}")
        return offer

    # Negotiations

    async def request(self, party: Party, body: Any) -> Negotiation:
        """A consumer's Contract Request Message on an offer: a new negotiation, or 403 naming the
        constraint the request does not meet."""
        if len(party.client_id) > MAX_CLIENT_ID:
            raise problem(403, f"a client id longer than {MAX_CLIENT_ID} characters cannot hold an access grant")
        body = _object(body)
        key = _text(body, "offer", required=True)
        assert key is not None
        consumer_pid = _text(body, "consumerPid") or new_urn()
        purpose = _text(body, "purpose", iri=True)
        location = _location(body.get("location"))
        offer = await self._store.offer(key)
        if offer is None:
            raise problem(404, f"there is no offer {key!r}", errors=[ProblemItem("/offer", "no such offer")])
        policy = odrl.parse_offer(offer.document)
        now = self.now()
        step = dsp.transition(None, State.REQUESTED, Role.CONSUMER)
        negotiation = Negotiation(
            provider_pid=new_urn(), consumer_pid=consumer_pid, consumer=party.client_id,
            dataset_id=offer.dataset_id, dataset=policy.target, offer_id=offer.id, offer=policy.document,
            state=State.REQUESTED, purpose=purpose, location=location, created=now,
            history=(Event(State.REQUESTED, Role.CONSUMER, step.message, now),),
        )
        terms(policy, negotiation, now)  # refuses what the offer cannot permit, before anything is stored
        negotiation, changes = await self._automatic(negotiation, Changes(), now)
        await self._store.add_negotiation(negotiation, changes)
        return negotiation

    async def negotiations(self, party: Party) -> list[Negotiation]:
        return await self._store.negotiations(None if party.provider else party.client_id)

    async def negotiation(self, party: Party, pid: str) -> Negotiation:
        negotiation = await self._store.negotiation(pid)
        if negotiation is None or not party.may_see(negotiation.consumer):
            raise problem(404, f"there is no contract negotiation {pid!r}")
        return negotiation

    async def counter_offer(self, party: Party, pid: str, body: Any) -> Negotiation:
        """The provider's Contract Offer Message: its offer replaces the one on the table."""
        return await self._move(party, pid, State.OFFERED, Role.PROVIDER, offer=_offer_member(body))

    async def counter_request(self, party: Party, pid: str, body: Any) -> Negotiation:
        """The consumer's Contract Request Message on an offered negotiation, with the terms it asks for."""
        return await self._move(party, pid, State.REQUESTED, Role.CONSUMER, offer=_offer_member(body))

    async def agree(self, party: Party, pid: str) -> Negotiation:
        return await self._move(party, pid, State.AGREED, Role.PROVIDER)

    async def verify(self, party: Party, pid: str) -> Negotiation:
        return await self._move(party, pid, State.VERIFIED, Role.CONSUMER)

    async def event(self, party: Party, pid: str, body: Any) -> Negotiation:
        """A Contract Negotiation Event Message: ACCEPTED from the consumer, FINALIZED from the provider."""
        event_type = _text(_object(body), "eventType", required=True)
        moves = {"ACCEPTED": (State.ACCEPTED, Role.CONSUMER), "FINALIZED": (State.FINALIZED, Role.PROVIDER)}
        if event_type not in moves:
            raise invalid("/eventType", "must be ACCEPTED or FINALIZED")
        return await self._move(party, pid, *moves[event_type])

    async def terminate(self, party: Party, pid: str, body: Any) -> Negotiation:
        """Either party's Contract Negotiation Termination Message."""
        reason = _text(_object(body, optional=True), "reason")
        negotiation = await self._store.negotiation(pid)
        role = Role.CONSUMER if negotiation and party.is_consumer_of(negotiation.consumer) else Role.PROVIDER
        return await self._move(party, pid, State.TERMINATED, role, reason=reason)

    # Agreements

    async def agreements(self, party: Party) -> list[Agreement]:
        return await self._store.agreements(None if party.provider else party.client_id)

    async def agreement(self, party: Party, uid: str) -> Agreement:
        agreement = await self._store.agreement(_urn(uid))
        if agreement is None or not party.may_see(agreement.consumer):
            raise problem(404, f"there is no agreement {uid!r}")
        return agreement

    async def terminate_agreement(self, party: Party, uid: str, body: Any) -> Agreement:
        """End an agreement (its consumer or a provider): its grant is withdrawn at once."""
        reason = _text(_object(body, optional=True), "reason")
        agreement = await self._store.agreement(_urn(uid))
        if agreement is None:
            raise problem(404, f"there is no agreement {uid!r}")
        if not party.may_see(agreement.consumer):
            raise problem(403, "only the agreement's consumer or a provider may terminate it")
        await self._store.terminate_agreement(agreement.uid, self.now(), reason)
        return await self.agreement(party, agreement.uid)

    # Grants

    async def active_grants(self, client_id: str | None) -> list[Grant]:
        """Grants the gateway should honour: not withdrawn, not expired."""
        now = self.now()
        return [grant for grant in await self._store.grants(client_id) if grant.refusal(now) != "expired"]

    async def take_uses(self, body: Any) -> tuple[str, int | None]:
        """Take uses from a grant, atomically; 403 with the reason when none may be taken."""
        body = _object(body)
        grant_id = _text(body, "grant_id", required=True)
        assert grant_id is not None
        uses = body.get("uses", 1)
        if type(uses) is not int or not 1 <= uses <= MAX_COUNT:
            raise invalid("/uses", f"must be a whole number from 1 to {MAX_COUNT}")
        grant = await self._store.grant(grant_id)
        if grant is None:
            raise problem(404, f"there is no grant {grant_id!r}")
        reason = grant.refusal(self.now())
        if reason is None:
            taken, remaining = await self._store.take_uses(grant_id, uses)
            if taken:
                return grant_id, remaining
            grant = await self._store.grant(grant_id)
            reason = "withdrawn" if grant is None or grant.withdrawn is not None else "exhausted"
        raise _refused(grant_id, reason, grant)

    # Moves

    async def _move(
        self, party: Party, pid: str, target: State, by: Role, *, offer: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> Negotiation:
        for _ in range(_MOVE_ATTEMPTS):
            current = await self._store.negotiation(pid)
            if current is None:
                raise problem(404, f"there is no contract negotiation {pid!r}")
            _check_party(party, current, by, target)
            now = self.now()
            moved, changes = await self._step(current, target, by, now, offer=offer, reason=reason)
            moved, changes = await self._automatic(moved, changes, now)
            if await self._store.move(moved, current.version, changes):
                return moved
        raise problem(409, f"contract negotiation {pid} keeps changing; try again")

    async def _automatic(self, negotiation: Negotiation, changes: Changes, now: datetime) -> tuple[Negotiation, Changes]:
        """The moves an open-data offer makes without anybody: agreed, verified, finalized."""
        for step in dsp.automatic_steps(negotiation.state, odrl.parse_offer(negotiation.offer)):
            negotiation, changes = await self._step(negotiation, step.target, step.by, now, changes=changes)
        return negotiation, changes

    async def _step(
        self, negotiation: Negotiation, target: State, by: Role, now: datetime, *,
        offer: Mapping[str, Any] | None = None, reason: str | None = None, changes: Changes = Changes(),
    ) -> tuple[Negotiation, Changes]:
        step = dsp.transition(negotiation.state, target, by)
        history = negotiation.history + (Event(target, by, step.message, now, reason),)
        moved = replace(negotiation, state=target, history=history)
        if offer is not None:
            policy = odrl.parse_offer(offer)
            _check_counter_offer(policy, negotiation)
            moved = replace(moved, offer=policy.document)
        if target is State.AGREED:
            agreement = self._conclude(moved, now)
            moved = replace(moved, agreement=agreement.uid)
            changes = replace(changes, agreement=agreement)
        elif target is State.FINALIZED:
            agreement = changes.agreement or await self._store.agreement(negotiation.agreement or "")
            assert agreement is not None, "a VERIFIED negotiation has an agreement"
            grant = await self._grant(moved, agreement)
            if grant is not None:
                moved = replace(moved, grant=grant.grant_id)
                changes = replace(changes, grant=grant)
        elif target is State.TERMINATED and negotiation.agreement is not None:
            changes = replace(changes, terminate_agreement=True)
        return moved, changes

    def _conclude(self, negotiation: Negotiation, now: datetime) -> Agreement:
        policy = odrl.parse_offer(negotiation.offer)
        given = terms(policy, negotiation, now, status=409)
        uid = new_urn()
        return Agreement(
            uid=uid, negotiation=negotiation.provider_pid, consumer=negotiation.consumer,
            dataset=negotiation.dataset, created=now, not_before=given.not_before or now, not_after=given.not_after,
            document=odrl.agreement(policy, uid=uid, assignee=negotiation.consumer, at=now),
        )

    async def _grant(self, negotiation: Negotiation, agreement: Agreement) -> Grant | None:
        try:
            dataset = await self._catalogue.get(negotiation.dataset_id)
        except DatasetNotFound:
            raise problem(409, f"the dataset {negotiation.dataset} was withdrawn from the catalogue") from None
        query = grant_query(dataset)
        if query is None:
            return None
        given = terms(odrl.parse_offer(negotiation.offer), negotiation, agreement.created, status=409)
        return Grant(
            grant_id=new_urn(), agreement=agreement.uid, client_id=negotiation.consumer, dataset=negotiation.dataset,
            query=query, not_before=agreement.not_before, not_after=agreement.not_after, remaining=given.remaining,
        )

    async def _dataset(self, dataset_id: str) -> Dataset:
        try:
            return await self._catalogue.get(dataset_id)
        except DatasetNotFound:
            raise problem(404, f"there is no dataset {dataset_id!r}") from None


def terms(policy: odrl.Policy, negotiation: Negotiation, now: datetime, *, status: int = 403) -> Terms:
    """What ``policy`` gives the negotiation's consumer, judged now on purpose, recipient and
    location; dateTime and count become the window and the uses. Refused: ``status`` naming why."""
    request = odrl.UseRequest(
        at=now, action=GRANTED_ACTION, purpose=negotiation.purpose, recipient=negotiation.consumer,
        location=negotiation.location,  # type: ignore[arg-type]
    )
    decision = odrl.evaluate(_decidable_now(policy), request)
    if not decision.permitted:
        extensions = {}
        if decision.constraint is not None:
            extensions = {"constraint": str(decision.constraint), "pointer": decision.constraint.pointer}
        raise problem(status, f"the offer does not permit this request: {decision.reason}", **extensions)
    assert decision.permission is not None
    permission = next(rule for rule in policy.permissions if rule.pointer == decision.permission.pointer)
    not_before, not_after = window(permission)
    if not_after is not None and (now >= not_after or (not_before is not None and not_before >= not_after)):
        raise problem(
            status, f"the offer's dateTime window {permission.pointer} has ended ({utc_text(not_after)})",
            pointer=permission.pointer,
        )
    remaining = odrl.remaining_uses(replace(decision, permission=permission), 0)
    return Terms(permission, not_before, not_after, remaining)


def _decidable_now(policy: odrl.Policy) -> odrl.Policy:
    """The policy without what only a use can decide: permissions lose their dateTime and count
    constraints, prohibitions depending on them are left out."""
    def later(rule: odrl.Rule) -> bool:
        return any(c.left_operand in _DECIDED_AT_USE for c in rule.constraints)

    permissions = tuple(
        replace(rule, constraints=tuple(c for c in rule.constraints if c.left_operand not in _DECIDED_AT_USE))
        for rule in policy.permissions
    )
    return replace(policy, permissions=permissions, prohibitions=tuple(r for r in policy.prohibitions if not later(r)))


def window(permission: odrl.Rule) -> tuple[datetime | None, datetime | None]:
    """[not_before, not_after) from a permission's dateTime constraints (``neq`` cannot be one)."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for constraint in permission.constraints:
        instant = constraint.instant
        if constraint.left_operand != "dateTime" or instant is None:
            continue
        op = constraint.operator
        if op in ("gteq", "eq"):
            starts.append(instant)
        if op == "gt":
            starts.append(instant + _TICK)
        if op in ("lteq", "eq"):
            ends.append(instant + _TICK)
        if op == "lt":
            ends.append(instant)
    return (max(starts).astimezone(UTC) if starts else None), (min(ends).astimezone(UTC) if ends else None)


def grant_query(dataset: Dataset) -> dict[str, Any] | None:
    """The NGSI-LD query scope of the dataset's digital twin, as PPI ``access-grant`` names it."""
    twin = dataset.document.get("digitalTwin")
    if twin is None:
        return None
    query: dict[str, Any] = {"entity_types": list(twin["entityTypes"])}
    if "q" in twin:
        query["q"] = twin["q"]
    if "georel" in twin:
        query["geo"] = {name: twin[name] for name in ("georel", "geometry", "coordinates", "geoproperty") if name in twin}
    return query


def _check_party(party: Party, negotiation: Negotiation, by: Role, target: State) -> None:
    if by is Role.CONSUMER and party.is_consumer_of(negotiation.consumer):
        return
    if by is Role.PROVIDER and party.provider:
        return
    raise problem(
        403, f"only the {by.value} of the contract negotiation may move it to {target.value}",
        state=negotiation.state.value,
    )


def _check_counter_offer(policy: odrl.Policy, negotiation: Negotiation) -> None:
    if policy.target != negotiation.dataset:
        raise invalid("/offer/target", f"must be the negotiated dataset, {negotiation.dataset}")
    assigner = negotiation.offer["assigner"]
    if policy.assigner != assigner:
        raise invalid("/offer/assigner", f"must stay the provider, {assigner}")


def _refused(grant_id: str, reason: str, grant: Grant | None) -> ProblemError:
    details = {
        "withdrawn": "its agreement was terminated",
        "expired": "its validity ended" + (f" at {utc_text(grant.not_after)}" if grant and grant.not_after else ""),
        "not_yet_valid": "it is valid only from " + (utc_text(grant.not_before) if grant else "later"),
        "exhausted": "its agreement's count of uses is exhausted",
    }
    return problem(403, f"grant {grant_id} cannot be used: {details[reason]}", reason=reason, grant_id=grant_id)


def _object(body: Any, *, optional: bool = False) -> Mapping[str, Any]:
    if body is None and optional:
        return {}
    if not isinstance(body, Mapping):
        raise invalid("", "the body must be a JSON object")
    return body


def _text(body: Mapping[str, Any], name: str, *, required: bool = False, iri: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"/{name}", "is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT or "\x00" in value:
        raise invalid(f"/{name}", "must be a non-empty string")
    if iri and not _IRI.match(value):
        raise invalid(f"/{name}", "must be an IRI")
    return value


def _location(value: Any) -> tuple[float, ...] | None:
    """An optional ``[lon, lat]`` or ``[min lon, min lat, max lon, max lat]`` where the data is used."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) not in (2, 4)
        or not all(type(v) in (int, float) for v in value)
    ):
        raise invalid("/location", "must be [lon, lat] or [minLon, minLat, maxLon, maxLat]")
    return tuple(float(v) for v in value)


def _offer_member(body: Any) -> Mapping[str, Any]:
    offer = _object(body).get("offer")
    if not isinstance(offer, Mapping):
        raise invalid("/offer", "must be an ODRL offer (PPI odrl-offer)")
    try:
        checked_offer(offer)
    except ProblemError as error:
        raise problem(
            400, "the offer is not a valid ODRL offer: " + (error.detail or ""),
            errors=[replace(item, pointer="/offer" + item.pointer) for item in error.errors],
        ) from None
    return offer


def checked_offer(document: Mapping[str, Any]) -> odrl.Policy:
    """The policy of an offer that can also be stored: no NUL character (PostgreSQL text cannot
    hold one), counts within what is kept."""
    policy = odrl.parse_offer(document)
    no_nul(document)
    for rule in policy.permissions + policy.prohibitions:
        for c in rule.constraints:
            if c.left_operand == "count" and c.right_operand > MAX_COUNT:
                raise invalid(f"{c.pointer}/rightOperand", f"must be at most {MAX_COUNT}")
    return policy


def no_nul(document: Any, base: str = "") -> None:
    """400 at the first string holding a NUL character."""
    pointer = nul_pointer(document, "")
    if pointer is not None:
        raise invalid(base + pointer, "text must not contain a NUL character")


def _urn(uid: str) -> str:
    """Agreements are named by their uid (``urn:uuid:...``) or its bare UUID."""
    return uid if uid.startswith("urn:") else f"urn:uuid:{uid}"

