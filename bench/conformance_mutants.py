"""Deliberately broken variants of our MIMs, to show the conformance suite catches what it claims
to: each mutant is the reference MIM (``bench.conformance_targets``) with one fault put in, and
names the must-check that has to fail against it.

Most faults are put in by ``Fault``, an ASGI wrapper around the real app that rewrites a request
before the app sees it, answers in the app's place, or rewrites the app's answer; the gateway's
are the real gateway with a broken route table."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson
import rdflib
from joserfc import jwt
from joserfc.errors import JoseError
from rdflib import namespace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.conformance_targets import App, Deployment, Mutate
from gateway.routes import DEFAULT_ROUTES_FILE

Scope = dict[str, Any]
Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]
JSON = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Mutant:
    name: str
    mim: str
    fault: str
    """What is broken, in a sentence."""
    killed_by: str
    """The must-check that has to fail against it."""
    mutate: Mutate


class Fault:
    """``app`` with one fault for the requests ``matches`` accepts: ``request`` rewrites the request
    (scope and body) before the app sees it; ``reply`` answers in the app's place when it returns an
    answer; ``response`` rewrites the app's answer (status, headers, body)."""

    def __init__(self, app: App, matches: Callable[[Scope], bool], *,
                 request: Callable[[Scope, bytes], tuple[Scope, bytes]] | None = None,
                 reply: Callable[[Scope, bytes], Answer | None] | None = None,
                 response: Callable[[Scope, int, Headers, bytes], Answer] | None = None) -> None:
        self.app, self.matches = app, matches
        self.request, self.reply, self.response = request, reply, response

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.matches(scope):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.request is not None:
            scope, body = self.request(scope, body)
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        answer = self.reply(scope, body) if self.reply is not None else None
        if answer is None:
            answer = await self._answer_of_app(scope, body, receive)
            if self.response is not None:
                answer = self.response(scope, *answer)
        status, headers, content = answer
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})

    async def _answer_of_app(self, scope: Scope, body: bytes, receive: Any) -> Answer:
        replayed = False
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, replay, keep)
        return started["status"], list(started.get("headers", [])), b"".join(chunks)


def at(method: str, path: str, prefix: bool = False) -> Callable[[Scope], bool]:
    return lambda scope: scope["method"] == method and (
        scope["path"].startswith(path) if prefix else scope["path"] == path)


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def json_answer(status: int, document: Any) -> Answer:
    return status, JSON, orjson.dumps(document)


def without_query(*names: str) -> Callable[[Scope, bytes], tuple[Scope, bytes]]:
    def rewrite(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        kept = [(k, v) for k, v in parse_qsl(scope["query_string"].decode(), keep_blank_values=True) if k not in names]
        return {**scope, "query_string": urlencode(kept).encode()}, body
    return rewrite


def rewritten_json(change: Callable[[Any], Any], statuses: tuple[int, ...] = (200, 201)
                   ) -> Callable[[Scope, int, Headers, bytes], Answer]:
    """A response rewrite that passes ``change`` over JSON bodies answered with ``statuses``."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        if status not in statuses:
            return status, headers, content
        return status, headers, orjson.dumps(change(orjson.loads(content)))
    return rewrite


def _segment(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2])
    except ValueError:
        return None
    return header, claims


# Identity ------------------------------------------------------------------------------------

def accepts_alg_none(app: App, deployment: Deployment) -> App:
    """Introspection takes an unsigned (alg none) token at its word."""
    def reply(scope: Scope, body: bytes) -> Answer | None:
        parts = _unverified(form(body).get("token", ""))
        if parts is None or str(parts[0].get("alg", "")).lower() != "none":
            return None
        return json_answer(200, {**parts[1], "active": True, "token_type": "Bearer"})
    return Fault(app, at("POST", "/introspect"), reply=reply)


def trusts_unverified_claims(app: App, deployment: Deployment) -> App:
    """Introspection checks a signed token's claims but not its signature."""
    key = deployment.key
    assert key is not None

    def reply(scope: Scope, body: bytes) -> Answer | None:
        token = form(body).get("token", "")
        parts = _unverified(token)
        if parts is None or str(parts[0].get("alg", "")).lower() == "none":
            return None
        try:
            jwt.decode(token, key.jwk(), algorithms=[key.alg])
        except JoseError:
            return json_answer(200, {**parts[1], "active": True, "token_type": "Bearer"})
        return None
    return Fault(app, at("POST", "/introspect"), reply=reply)


def exchanges_anything(app: App, deployment: Deployment) -> App:
    """Token exchange issues the caller a token of its own, whatever the request holds."""
    def as_client_credentials(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        if form(body).get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
            return scope, body
        return scope, b"grant_type=client_credentials"
    return Fault(app, at("POST", "/token"), request=as_client_credentials)


def omits_typ(app: App, deployment: Deployment) -> App:
    """Access tokens are signed with the right key and claims but typed ``JWT``, not ``at+jwt``."""
    key = deployment.key
    assert key is not None

    def retyped(answer: dict[str, Any]) -> dict[str, Any]:
        claims = jwt.decode(answer["access_token"], key.jwk()).claims
        header = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
        return {**answer, "access_token": jwt.encode(header, claims, key.jwk(), algorithms=[key.alg])}
    return Fault(app, at("POST", "/token"), response=rewritten_json(retyped, (200,)))


def introspects_for_anyone(app: App, deployment: Deployment) -> App:
    """Introspection answers callers that did not authenticate (as if the suite's client had)."""
    basic = b"Basic " + base64.b64encode(f"suite:{deployment.secrets['suite']}".encode())

    def authenticated(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        if any(name == b"authorization" for name, _ in scope["headers"]) or "client_secret" in form(body):
            return scope, body
        return {**scope, "headers": [*scope["headers"], (b"authorization", basic)]}, body
    return Fault(app, at("POST", "/introspect"), request=authenticated)


def publishes_private_key(app: App, deployment: Deployment) -> App:
    """The JWK Set publishes the signing key with its private part."""
    key = deployment.key
    assert key is not None
    return Fault(app, at("GET", "/jwks"), reply=lambda scope, body: json_answer(200, {"keys": [
        {**key.jwk().as_dict(private=True), "kid": key.kid, "use": "sig", "alg": key.alg}]}))


def names_another_issuer(app: App, deployment: Deployment) -> App:
    """Its metadata names an issuer other than the URL it is served at."""
    return Fault(app, at("GET", "/.well-known/", prefix=True),
                 response=rewritten_json(lambda document: {**document, "issuer": "https://issuer.elsewhere.example"}))


def ignores_revocation(app: App, deployment: Deployment) -> App:
    """Revocation answers 200 and forgets the request."""
    return Fault(app, at("POST", "/revoke"), reply=lambda scope, body: json_answer(200, {}))


def challenges_nobody(app: App, deployment: Deployment) -> App:
    """A client that fails to authenticate gets 401 with no WWW-Authenticate challenge."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        return status, [(k, v) for k, v in headers if k.lower() != b"www-authenticate"], content
    return Fault(app, at("POST", "/token"), response=rewrite)


# Context -------------------------------------------------------------------------------------

ENTITIES = "/ngsi-ld/v1/entities"


def ignores_q(app: App, deployment: Deployment) -> App:
    """Query Entities drops ``q`` and answers unfiltered."""
    return Fault(app, at("GET", ENTITIES), request=without_query("q"))


def ignores_geo(app: App, deployment: Deployment) -> App:
    """Query Entities drops the geo-query and answers every entity of the type."""
    return Fault(app, at("GET", ENTITIES), request=without_query("georel", "geometry", "coordinates", "geoproperty"))


def duplicate_accepted(app: App, deployment: Deployment) -> App:
    """Creating an entity that exists answers 200 (as if created) instead of 409."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        return (200, [], b"") if status == 409 else (status, headers, content)
    return Fault(app, at("POST", ENTITIES), response=rewrite)


def notifies_nobody(app: App, deployment: Deployment) -> App:
    """Subscriptions are accepted, but notifications go to a fixed endpoint, not the subscriber's."""
    def misdirected(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        try:
            subscription = orjson.loads(body)
            subscription["notification"]["endpoint"]["uri"] = "http://127.0.0.1:9/notify"
        except (ValueError, KeyError, TypeError):
            return scope, body
        return scope, orjson.dumps(subscription)
    return Fault(app, at("POST", "/ngsi-ld/v1/subscriptions"), request=misdirected)


def registrations_unchecked(app: App, deployment: Deployment) -> App:
    """A context source registration the broker refuses is answered 201 Created all the same."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        if status != 400:
            return status, headers, content
        return 201, [(b"location", b"/ngsi-ld/v1/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:x")], b""
    return Fault(app, at("POST", "/ngsi-ld/v1/csourceRegistrations"), response=rewrite)


def wrong_error_type(app: App, deployment: Deployment) -> App:
    """A missing entity is 404 with the error type BadRequestData instead of ResourceNotFound."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        if status != 404:
            return status, headers, content
        problem = {**orjson.loads(content), "type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"}
        return status, headers, orjson.dumps(problem)
    return Fault(app, lambda scope: scope["path"].startswith(f"{ENTITIES}/"), response=rewrite)


def no_wellknown(app: App, deployment: Deployment) -> App:
    """No ``/.well-known/mim``: it does not say which MIM and PPIs it implements."""
    return Fault(app, at("GET", "/.well-known/mim"), reply=lambda scope, body: (404, [], b""))


# Marketplace ---------------------------------------------------------------------------------

ODRL_OPERATORS = {"eq", "gt", "gteq", "lt", "lteq", "neq", "isA", "hasPart", "isPartOf", "isAllOf", "isAnyOf",
                  "isNoneOf"}


def jumps_to_finalized(app: App, deployment: Deployment) -> App:
    """Any FINALIZED event is answered 200 FINALIZED, whatever state the negotiation is in."""
    def reply(scope: Scope, body: bytes) -> Answer | None:
        if b"FINALIZED" not in body:
            return None
        return json_answer(200, {"@type": "dspace:ContractNegotiation", "providerPid": scope["path"].split("/")[2],
                                 "state": "FINALIZED"})
    return Fault(app, lambda scope: scope["method"] == "POST" and scope["path"].endswith("/events"), reply=reply)


def untitled_catalogue(app: App, deployment: Deployment) -> App:
    """The Turtle catalogue leaves out every dataset's dct:title (mandatory in DCAT-AP)."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        if b"@prefix" not in content:
            return status, headers, content
        graph = rdflib.Graph().parse(data=content.decode(), format="turtle")
        for dataset in list(graph.subjects(namespace.RDF.type, namespace.DCAT.Dataset)):
            graph.remove((dataset, namespace.DCTERMS.title, None))
        return status, headers, graph.serialize(format="turtle").encode()
    return Fault(app, at("GET", "/catalog"), response=rewrite)


def grant_outlives_agreement(app: App, deployment: Deployment) -> App:
    """Terminating an agreement answers "terminated" but ends nothing: its grant stays active."""
    def terminated(scope: Scope, body: bytes) -> Answer:
        return json_answer(200, {"uid": scope["path"].split("/")[2], "status": "terminated"})
    return Fault(app, lambda scope: scope["method"] == "POST" and scope["path"].startswith("/agreements/")
                 and scope["path"].endswith("/termination"), reply=terminated)


def lenient_odrl(app: App, deployment: Deployment) -> App:
    """An offer's ODRL constraint with an operator ODRL does not define is read as ``eq``."""
    def lenient(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        try:
            offer = orjson.loads(body)
            for rule in offer.get("permission", []):
                for constraint in rule.get("constraint", []):
                    if constraint.get("operator") not in ODRL_OPERATORS:
                        constraint["operator"] = "eq"
        except (ValueError, AttributeError, TypeError):
            return scope, body
        return scope, orjson.dumps(offer)
    return Fault(app, lambda scope: scope["method"] == "POST" and scope["path"].endswith("/offers"), request=lenient)


def counts_resent_usage(app: App, deployment: Deployment) -> App:
    """Usage records are stored under new ids: a record a gateway sends again is counted twice."""
    def renumbered(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        try:
            records = orjson.loads(body)
            for record in records if isinstance(records, list) else [records]:
                record["record_id"] = f"urn:uuid:{uuid.uuid4()}"
        except (ValueError, TypeError):
            return scope, body
        return scope, orjson.dumps(records)
    return Fault(app, at("POST", "/usage-records"), request=renumbered)


def unchecked_usage(app: App, deployment: Deployment) -> App:
    """Usage records the marketplace refuses are answered 202 Accepted all the same."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        return json_answer(202, {"accepted": 1, "duplicates": 0}) if 400 <= status < 500 else (status, headers, content)
    return Fault(app, at("POST", "/usage-records"), response=rewrite)


# Permit check --------------------------------------------------------------------------------

CHECKS = "/v1/checks"


def _verdict(decision: dict[str, Any]) -> dict[str, Any]:
    failed = any(result.get("verdict") == "fail" for result in decision.get("results", []))
    return {**decision, "verdict": "non-compliant" if failed else "compliant"}


def strictly_below(decision: dict[str, Any]) -> dict[str, Any]:
    """The decision as if "at most" were ``<``: a pass at exactly a limit fails (the zero-area rules,
    nothing outside the building plane or parcel, are left alone)."""
    for result in decision.get("results", []):
        measured, limit = result.get("measured"), result.get("limit")
        if (result.get("comparator") == "<=" and result.get("verdict") == "pass" and measured and limit
                and limit["value"] != 0 and measured["value"] == limit["value"]):
            result["verdict"] = "fail"
    return _verdict(decision)


def without_english(decision: dict[str, Any]) -> dict[str, Any]:
    for result in decision.get("results", []):
        result["explanation"].pop("en", None)
    return decision


def without_storeys(decision: dict[str, Any]) -> dict[str, Any]:
    for result in decision.get("results", []):
        if result.get("rule") == "max-storeys":
            result["verdict"] = "not-applicable"
    return _verdict(decision)


def deciding(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Mutate:
    """The permit check with ``change`` passed over each decision it answers to a check."""
    return lambda app, deployment: Fault(app, at("POST", CHECKS), response=rewritten_json(change, (201,)))


# Gateway -------------------------------------------------------------------------------------

def routed(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Mutate:
    """The real gateway with its route table passed through ``change`` (each route)."""
    def mutate(app: App, deployment: Deployment) -> App:
        table = orjson.loads(DEFAULT_ROUTES_FILE.read_bytes())
        table["routes"] = [change(dict(route)) for route in table["routes"]]
        path = deployment.folder / "routes.json"
        path.write_bytes(orjson.dumps(table))
        assert deployment.rebuild is not None
        return deployment.rebuild(routes_file=path)
    return mutate


def public(route: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in route.items() if k not in ("scopes", "any_scopes", "types")}, "public": True}


def hides_region_failure(app: App, deployment: Deployment) -> App:
    """Region answers leave out OUP-Region-Failed: a peer that did not answer goes unreported."""
    def rewrite(scope: Scope, status: int, headers: Headers, content: bytes) -> Answer:
        return status, [(k, v) for k, v in headers if k.lower() != b"oup-region-failed"], content
    return Fault(app, lambda scope: scope["path"].startswith("/region/"), response=rewrite)


def plain_proxy(app: App, deployment: Deployment) -> App:
    """No gateway at all: a reverse proxy (identity under ``/identity/`` and its metadata, the rest to
    the context MIM) that forwards every request without looking at its token."""
    upstreams = {name: httpx.AsyncClient(base_url=url, timeout=10) for name, url in deployment.urls.items()}
    hop = {"host", "content-length", "content-encoding", "transfer-encoding", "connection"}

    async def forward(request: Request) -> Response:
        path = request.url.path
        name = "identity" if path.startswith(("/identity/", "/.well-known/oauth-authorization-server")) else "context"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        answer = await upstreams[name].request(request.method, path.removeprefix("/identity"), params=request.url.query,
                                               content=await request.body(), headers=headers)
        passed = {k: v for k, v in answer.headers.items() if k.lower() not in hop}
        return Response(answer.content, status_code=answer.status_code, headers=passed)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


MUTANTS = [
    Mutant("identity-accepts-alg-none", "identity", "introspection takes an unsigned (alg none) token as active",
           "identity.introspection.alg_none", accepts_alg_none),
    Mutant("identity-trusts-unverified-claims", "identity", "introspection does not verify signatures",
           "identity.introspection.altered_claims", trusts_unverified_claims),
    Mutant("identity-exchanges-anything", "identity", "token exchange ignores the request and issues a token",
           "identity.token_exchange.invalid_refused", exchanges_anything),
    Mutant("identity-omits-typ", "identity", "access tokens typed JWT, not at+jwt", "identity.token.jwt_typ",
           omits_typ),
    Mutant("identity-introspects-for-anyone", "identity", "introspection without caller authentication",
           "identity.introspection.caller_auth", introspects_for_anyone),
    Mutant("identity-publishes-private-key", "identity", "the JWK Set holds the private signing key",
           "identity.jwks.public_only", publishes_private_key),
    Mutant("identity-names-another-issuer", "identity", "metadata issuer differs from where it is served",
           "identity.discovery.issuer", names_another_issuer),
    Mutant("identity-ignores-revocation", "identity", "revocation answers 200 and does nothing",
           "identity.revocation.effective", ignores_revocation),
    Mutant("identity-challenges-nobody", "identity", "401 invalid_client without WWW-Authenticate",
           "identity.errors.invalid_client", challenges_nobody),
    Mutant("context-ignores-q", "context", "Query Entities ignores q", "context.query.q", ignores_q),
    Mutant("context-ignores-geo", "context", "Query Entities ignores the geo-query", "context.query.geo", ignores_geo),
    Mutant("context-duplicate-accepted", "context", "a duplicate create answers 200, not 409",
           "context.entities.duplicate", duplicate_accepted),
    Mutant("context-notifies-nobody", "context", "notifications never reach the subscriber",
           "context.subscriptions.notification", notifies_nobody),
    Mutant("context-registrations-unchecked", "context", "invalid context source registrations answered 201",
           "context.ppi.registration_examples_refused", registrations_unchecked),
    Mutant("context-wrong-error-type", "context", "a missing entity is 404 BadRequestData",
           "context.errors.not_found", wrong_error_type),
    Mutant("context-without-wellknown", "context", "no /.well-known/mim", "context.wellknown.mim", no_wellknown),
    Mutant("marketplace-requested-to-finalized", "marketplace", "a negotiation jumps from REQUESTED to FINALIZED",
           "marketplace.dsp.illegal_transitions", jumps_to_finalized),
    Mutant("marketplace-untitled-catalogue", "marketplace", "catalogue datasets without dct:title",
           "marketplace.catalogue.dcat_ap_shacl", untitled_catalogue),
    Mutant("marketplace-grant-outlives-agreement", "marketplace", "a terminated agreement's grant stays active",
           "marketplace.grants.withdrawn_after_termination", grant_outlives_agreement),
    Mutant("marketplace-lenient-odrl", "marketplace", "an unknown ODRL operator is read as eq",
           "marketplace.odrl.offer_validity", lenient_odrl),
    Mutant("marketplace-counts-resent-usage", "marketplace", "a usage record sent twice is counted twice",
           "marketplace.ppi.usage_record_examples_accepted", counts_resent_usage),
    Mutant("marketplace-unchecked-usage", "marketplace", "invalid usage records answered 202",
           "marketplace.ppi.usage_record_examples_refused", unchecked_usage),
    Mutant("permit-check-less-than-for-at-most", "permit-check", "\"at most\" implemented as <",
           "permit-check.known-answers.height-at-the-limit", deciding(strictly_below)),
    Mutant("permit-check-dutch-only", "permit-check", "explanations in Dutch only",
           "permit-check.decision.explanations", deciding(without_english)),
    Mutant("permit-check-ignores-storeys", "permit-check", "the storeys limit is never checked",
           "permit-check.known-answers.storeys-over", deciding(without_storeys)),
    Mutant("gateway-forwards-without-token", "gateway", "every route public: requests forwarded without a token",
           "gateway.pep.no-token", routed(public)),
    Mutant("gateway-plain-proxy", "gateway", "a reverse proxy with no policy enforcement at all",
           "gateway.pep.forged-signature", plain_proxy),
    Mutant("gateway-ignores-scopes", "gateway", "any valid token admitted, whatever its scopes",
           "gateway.pep.wrong-scope", routed(lambda route: {**route, "scopes": []} if "scopes" in route else route)),
    Mutant("gateway-skips-ppi-validation", "gateway", "bodies forwarded without PPI validation",
           "gateway.ppi.invalid-refused", routed(lambda route: {k: v for k, v in route.items() if k != "ppi"})),
    Mutant("gateway-hides-region-failure", "gateway", "a peer that did not answer goes unreported",
           "gateway.region.partial-failure", hides_region_failure),
    Mutant("gateway-without-wellknown", "gateway", "no /.well-known/mim", "gateway.wellknown.mim", no_wellknown),
]
