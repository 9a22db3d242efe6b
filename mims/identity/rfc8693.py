"""RFC 8693 token exchange at ``/token``: a token of a trusted city becomes one of ours.

A citizen of The Hague holds The Hague's access token; a client registered here for the
``urn:ietf:params:oauth:grant-type:token-exchange`` grant presents it (``subject_token``) and
receives our RFC 9068 access token, so services that trust only this issuer serve the citizen.
authlib has no token exchange grant; this is one on its ``BaseGrant``.

- The subject (and optional actor) token is one of our active access tokens, or a token of a
  foreign issuer on the trust list, verified by the kit verifier with that issuer's own keys and
  for an audience the list allows. Token types: ``access_token``, and ``jwt`` for any JWT the
  issuer's trust entry accepts (``accepted_typ``). ID tokens are refused: they are meant for the
  client they were issued to, not for us.
- Scopes: the platform scopes the subject token grants (a foreign token's mapped through the
  trust list), of those only the ones the exchanging client is registered for, narrowed by
  ``scope`` when given.
- ``sub``: ours stays as it is; a foreign ``sub`` is unique only within its issuer, so the new
  ``sub`` is ``<issuer>#<sub>`` (an issuer identifier has no ``#``, so this is unambiguous and
  cannot collide with our own subjects); ``original_iss`` keeps the subject token's issuer (or,
  for a token of ours from an earlier exchange, the ``original_iss`` it carries).
- ``act`` (section 4.1) names the acting party: the actor token's ``sub`` (and ``iss`` when it
  is foreign) or else the exchanging client, always with its ``client_id``; an ``act`` already
  in the subject token is nested as the earlier actor. A ``may_act`` claim (section 4.4) in
  the subject token must name that actor.
- The new token's audience is the ``resource`` (RFC 8707) and ``audience`` parameters, or the
  default audience. Only access tokens are issued; no refresh token.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anyio.from_thread
import ppi_schemas
from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from fastapi import FastAPI

from mims.identity.clients import AUTH_METHODS, TOKEN_EXCHANGE, parse_scopes
from mims.identity.rfc6749 import OAuthClient, TokenServer
from mims.identity.rfc7662 import AccessTokens
from mims.identity.rfc8707 import resource_indicators
from mims.identity.rfc9068 import AccessTokenGenerator
from mims.identity.settings import IdentitySettings
from mims.kit.auth import InvalidToken, KeySetUnavailable, TokenVerifier

#: RFC 8693 section 3 token type identifiers.
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
#: Subject and actor token types accepted.
INPUT_TYPES = (ACCESS_TOKEN, JWT)
PPI = "token-exchange-request@1.0.0"
#: Characters an error_description may not contain (RFC 6749 section 5.2).
_NOT_IN_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class TemporarilyUnavailableError(OAuth2Error):
    """The keys or trust list needed to check the subject token cannot be obtained now."""

    error = "temporarily_unavailable"
    status_code = 503


@dataclass(frozen=True)
class Party:
    """A verified subject or actor: who, at which issuer, allowed which platform scopes."""

    issuer: str
    sub: str
    client_id: str
    scopes: frozenset[str]
    claims: dict[str, Any]
    foreign: bool


@dataclass(frozen=True)
class Exchanged:
    """What the new token says, handed to the token generator as its ``user``."""

    sub: str
    audiences: tuple[str, ...]
    claims: dict[str, Any] = field(default_factory=dict)

    def get_user_id(self) -> str:
        return self.sub


class TokenExchange:
    """Reads subject and actor tokens; an authlib grant extension giving the grant access to it."""

    def __init__(self, *, issuer: str, own: AccessTokens, foreign: Callable[[], TokenVerifier]) -> None:
        self.issuer = issuer
        self._own = own
        self._foreign = foreign

    def __call__(self, grant: TokenExchangeGrant) -> None:
        grant.exchange = self

    async def party(self, token: str, parameter: str) -> Party:
        """The verified party ``token`` names; ``invalid_grant`` saying why not."""
        if _unverified_issuer(token) == self.issuer:
            claims = await self._own.active(token)
            if claims is None:
                raise InvalidGrantError(f"{parameter} is not an active access token of this issuer")
            scope = claims.get("scope", "")
            return Party(self.issuer, claims["sub"], claims["client_id"], frozenset(scope.split()), claims, False)
        try:
            access = await self._foreign().verify(token)
        except InvalidToken as exc:
            raise InvalidGrantError(_description(f"{parameter}: {exc.reason}")) from None
        except KeySetUnavailable:
            raise TemporarilyUnavailableError(f"{parameter} cannot be checked now: its issuer's keys are unavailable")
        return Party(access.issuer, access.sub, access.client_id, access.scopes, access.claims, True)


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):
    """``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693 section 2)."""

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    exchange: TokenExchange

    def validate_token_request(self) -> None:
        client: OAuthClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"client {client.get_client_id()} may not use token exchange")
        self.request.client = client
        form = self.request.payload.data
        # RFC 8707 section 2: a bad resource is invalid_target, whatever else is wrong.
        resources = resource_indicators(self.request.payload.datalist.get("resource", []))
        _check_request(self.request.payload.datalist)
        requested = form.get("requested_token_type", ACCESS_TOKEN)
        if requested != ACCESS_TOKEN:
            raise InvalidRequestError(f"requested_token_type {requested} is not supported; only {ACCESS_TOKEN}")
        for name in ("subject_token_type", "actor_token_type"):
            if form.get(name, ACCESS_TOKEN) not in INPUT_TYPES:
                raise InvalidRequestError(f"{name} {form[name]} is not supported; use {' or '.join(INPUT_TYPES)}")
        audiences = tuple(dict.fromkeys(self.request.payload.datalist.get("audience", [])))
        subject = anyio.from_thread.run(self.exchange.party, form["subject_token"], "subject_token")
        actor = None
        if "actor_token" in form:
            actor = anyio.from_thread.run(self.exchange.party, form["actor_token"], "actor_token")
        act = self._act(subject, actor, client)
        scopes = self._scopes(subject, client, form.get("scope"))
        sub = subject.sub if not subject.foreign else f"{subject.issuer}#{subject.sub}"
        # A token of ours from an earlier exchange already names where its subject comes from.
        original_iss = subject.claims.get("original_iss", subject.issuer) if not subject.foreign else subject.issuer
        claims = {"act": act, "original_iss": original_iss}
        self.request.exchanged = (Exchanged(sub, (*resources, *audiences), claims), " ".join(scopes))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        exchanged, scope = self.request.exchanged
        token = self.generate_token(user=exchanged, scope=scope, include_refresh_token=False)
        self.save_token(token)
        # Section 2.2.1: the type of what was issued, next to the usual members.
        return 200, {**token, "issued_token_type": ACCESS_TOKEN}, self.TOKEN_RESPONSE_HEADER

    def _act(self, subject: Party, actor: Party | None, client: OAuthClient) -> dict[str, Any]:
        client_id = client.get_client_id()
        act: dict[str, Any] = {"sub": client_id, "client_id": client_id}
        if actor is not None:
            act["sub"] = actor.sub
            if actor.foreign:
                act["iss"] = actor.issuer
        may_act = subject.claims.get("may_act")
        if isinstance(may_act, dict):
            actor_iss = actor.issuer if actor is not None else self.exchange.issuer
            if may_act.get("sub") != act["sub"] or may_act.get("iss", actor_iss) != actor_iss:
                raise InvalidGrantError("the subject token's may_act does not name this actor")
        if isinstance(subject.claims.get("act"), dict):
            act["act"] = subject.claims["act"]
        return act

    def _scopes(self, subject: Party, client: OAuthClient, scope: str | None) -> list[str]:
        available = [s for s in client.client.scopes if s in subject.scopes]
        if not available:
            raise InvalidScopeError("the subject token grants no platform scope this client may be given")
        if scope is None:
            return available
        granted = [s for s in parse_scopes(scope) if s in available]
        if not granted:
            raise InvalidScopeError("none of the requested scopes is granted by the subject token to this client")
        return granted


class ExchangedTokenGenerator(AccessTokenGenerator):
    """Our RFC 9068 access token, with the subject, audience and claims of the exchange."""

    def get_audiences(self, client: Any, user: Exchanged, scope: str) -> str | list[str]:
        if not user.audiences:
            return self._default_audience
        return user.audiences[0] if len(user.audiences) == 1 else list(user.audiences)

    def get_extra_claims(self, client: Any, grant_type: str, user: Exchanged, scope: str) -> dict[str, Any]:
        return dict(user.claims)


def register(server: TokenServer, app: FastAPI, settings: IdentitySettings, tokens: AccessTokens) -> None:
    """Token exchange on ``server``, reading foreign tokens with ``app.state.foreign_tokens``."""
    exchange = TokenExchange(issuer=settings.issuer, own=tokens, foreign=lambda: app.state.foreign_tokens)
    server.register_grant(TokenExchangeGrant, [exchange])
    generator = ExchangedTokenGenerator(
        issuer=settings.issuer,
        default_audience=settings.default_audience,
        lifetime=settings.access_token_lifetime,
        signing_key=lambda: app.state.signing_key,
    )
    server.register_token_generator(TOKEN_EXCHANGE, generator)


def _check_request(datalist: dict[str, list[str]]) -> None:
    """The request as the PPI describes it; ``invalid_request`` naming the first problem."""
    payload = {name: values[0] if len(values) == 1 else values for name, values in datalist.items()}
    if ppi_schemas.is_valid(payload, PPI):
        return
    problem = ppi_schemas.validate(payload, PPI)[0]
    where = problem.pointer.lstrip("/").split("/", 1)[0] or "request"
    raise InvalidRequestError(_description(f"{where}: {problem.message}"))


def _description(text: str) -> str:
    return _NOT_IN_DESCRIPTION.sub("?", text)


def _unverified_issuer(token: str) -> Any:
    """The ``iss`` a JWT claims, unverified: only to choose how to verify it."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("iss")
    except (IndexError, ValueError, AttributeError):
        return None
