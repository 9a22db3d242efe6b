"""What the identity checks share: the provider's metadata as it publishes it, and a client that
authenticates the way the provider advertises (RFC 6749 §2.3.1, basic or post, falling back to the
other, which the RFCs allow, with a note)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import httpx

from conformance.checks.common import body
from conformance.session import Session

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
"""RFC 8414 §3 and OpenID Connect Discovery §4."""
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
"""RFC 7591 §2 names of the two ways to present a client secret (RFC 6749 §2.3.1)."""
_LEARNED: WeakKeyDictionary[Session, str] = WeakKeyDictionary()
"""The secret method a run found to work after the advertised one was refused: used first from then
on, so the provider does not count a failed authentication per request (brute-force guards)."""


def metadata_urls(session: Session) -> list[str]:
    """Where the metadata of the issuer ``--target`` lives: RFC 8414 puts the well-known segment
    before the issuer's path, OpenID Connect Discovery after it."""
    parts = urlsplit(session.target.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return [f"{origin}{METADATA_PATHS[0]}{parts.path}", f"{session.target.url}{METADATA_PATHS[1]}"]


async def metadata(session: Session) -> dict[str, Any]:
    """The first metadata document the provider serves; a failure when it serves none."""
    answers = []
    for url in metadata_urls(session):
        answer = await session.http.get(url)
        if answer.status_code == 200:
            document = body(answer)
            session.expect(isinstance(document, dict), f"{url} is not a JSON object: {answer.text[:200]!r}")
            return document
        answers.append(f"{url} answered {answer.status_code}")
    session.fail("no authorization server metadata: " + "; ".join(answers))


def endpoint(session: Session, document: dict[str, Any], name: str, feature: str) -> str:
    """The URL of ``name`` (e.g. ``introspection_endpoint``); skipped when not advertised."""
    url = document.get(name)
    if not isinstance(url, str) or not url:
        session.skip(f"the metadata advertises no {name}, so {feature} is not offered")
    return url


def token_url(session: Session, document: dict[str, Any]) -> str:
    return session.target.token_url or endpoint(session, document, "token_endpoint", "token issue")


def credentials(session: Session) -> tuple[str, str]:
    target = session.target
    if not (target.client_id and target.client_secret):
        session.needs("needs a client: give --client-id and --client-secret")
    return target.client_id, target.client_secret


def methods(document: dict[str, Any], members: str) -> list[str]:
    """The secret methods to try at an endpoint: the advertised one first, then the other."""
    advertised = document.get(members) or document.get("token_endpoint_auth_methods_supported") or []
    first = [m for m in advertised if m in SECRET_METHODS] if isinstance(advertised, list) else []
    return [*first, *(m for m in SECRET_METHODS if m not in first)]


def authenticated(method: str, client_id: str, secret: str, data: dict[str, str]) -> dict[str, Any]:
    """httpx arguments presenting the client's secret by ``method``."""
    if method == "client_secret_basic":
        return {"data": data, "auth": (client_id, secret)}
    return {"data": {**data, "client_id": client_id, "client_secret": secret}}


async def post_as_client(session: Session, document: dict[str, Any], url: str, data: dict[str, str],
                         members: str = "token_endpoint_auth_methods_supported") -> httpx.Response:
    """POST ``data`` to ``url`` as the operator's client, by the advertised method and, when the
    provider refuses it as a client authentication failure, by the other (noted)."""
    client_id, secret = credentials(session)
    order = methods(document, members)
    if session in _LEARNED:
        order = [_LEARNED[session], *(m for m in order if m != _LEARNED[session])]
    answer = await session.http.post(url, **authenticated(order[0], client_id, secret, data))
    if answer.status_code in (400, 401) and _error(answer) == "invalid_client":
        retry = await session.http.post(url, **authenticated(order[1], client_id, secret, data))
        if retry.status_code not in (400, 401) or _error(retry) != "invalid_client":
            session.note(f"{url} refused {order[0]} for this client and accepted {order[1]} (RFC 6749 §2.3.1 "
                         "lets the server choose one per client)")
            _LEARNED[session] = order[1]
            return retry
    return answer


async def issue(session: Session, document: dict[str, Any], scope: str | None = None) -> httpx.Response:
    """A client_credentials token response (RFC 6749 §4.4)."""
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    return await post_as_client(session, document, token_url(session, document), data)


async def access_token(session: Session, document: dict[str, Any]) -> str:
    """A fresh access token of the operator's client; a failure when the provider gives none."""
    answer = await issue(session, document)
    session.expect(answer.status_code == 200, f"client_credentials token request answered {answer.status_code}: "
                   f"{answer.text[:200]!r}")
    token = body(answer).get("access_token") if isinstance(body(answer), dict) else None
    session.expect(isinstance(token, str) and token, f"the token response has no access_token: {answer.text[:200]!r}")
    return token


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and claims of a JWS compact token, unverified; None for an opaque token."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in pieces[:2])
    except ValueError:
        return None
    return (header, claims) if isinstance(header, dict) and isinstance(claims, dict) else None


def unique(label: str) -> str:
    """A value of this run only (so reruns against the same target do not collide)."""
    return f"conformance-{label}-{uuid.uuid4().hex[:12]}"


def _error(answer: httpx.Response) -> str | None:
    try:
        document = answer.json()
    except ValueError:
        return None
    return document.get("error") if isinstance(document, dict) else None
