"""Identity checks of what the provider publishes: its metadata (RFC 8414, OpenID Connect
Discovery), which must name it exactly and advertise nothing that does not work, and its JWK Set,
which must let a verifier pick a key by ``kid`` and hold nothing secret."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conformance.checks.common import body, conforms
from conformance.checks.identity_client import SECRET_METHODS, endpoint, metadata, metadata_urls
from conformance.registry import check
from conformance.session import Session

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
"""RFC 7518 §6.2.2, §6.3.2 and §6.4.1: private or symmetric key material."""
ENDPOINTS = {
    "token_endpoint": "POST", "jwks_uri": "GET", "authorization_endpoint": "GET", "userinfo_endpoint": "GET",
    "introspection_endpoint": "POST", "revocation_endpoint": "POST", "registration_endpoint": "POST",
    "end_session_endpoint": "GET", "device_authorization_endpoint": "POST",
    "pushed_authorization_request_endpoint": "POST",
}
"""Advertised endpoints and the method a client uses on them."""
AUTH_METHOD_MEMBERS = {
    "introspection_endpoint_auth_methods_supported": "introspection_endpoint",
    "revocation_endpoint_auth_methods_supported": "revocation_endpoint",
}


@check("identity.discovery.metadata", "Publishes its authorization server metadata as a JSON object",
       mim="identity", source="RFC 8414 §3; OpenID Connect Discovery 1.0 §4")
async def published(session: Session) -> None:
    found = []
    for url in metadata_urls(session):
        answer = await session.http.get(url)
        if answer.status_code == 200:
            session.expect(isinstance(body(answer), dict), f"{url} is not a JSON object")
            found.append(url)
    session.expect(found, "neither metadata location answers 200: " + ", ".join(metadata_urls(session)))
    if len(found) == 1:
        session.note(f"metadata is served only at {found[0]} (one of the two locations suffices)")


@check("identity.discovery.issuer", "The metadata's issuer is exactly the URL the provider is known by",
       mim="identity", source="RFC 8414 §3.3; OpenID Connect Discovery 1.0 §4.3")
async def issuer(session: Session) -> None:
    document = await metadata(session)
    session.expect(document.get("issuer") == session.target.url, f"issuer is {document.get('issuer')!r}, expected "
                   f"exactly the target {session.target.url!r} (clients must reject a differing issuer)")


@check("identity.discovery.required", "The metadata has every required member, endpoints as absolute URLs",
       mim="identity", source="RFC 8414 §2; OpenID Connect Discovery 1.0 §3")
async def required(session: Session) -> None:
    document = await metadata(session)
    grants = document.get("grant_types_supported", ["authorization_code", "implicit"])
    wanted = ["issuer", "token_endpoint", "jwks_uri", "response_types_supported"]
    if {"authorization_code", "implicit"} & set(grants):
        wanted.append("authorization_endpoint")
    missing = [name for name in wanted if document.get(name) in (None, "")]
    session.expect(not missing, f"the metadata lacks {', '.join(missing)}")
    relative = [f"{name}={document[name]!r}" for name in ENDPOINTS if name in document
                and not (isinstance(document[name], str) and document[name].startswith(("https://", "http://")))]
    session.expect(not relative, f"endpoints that are not absolute URLs: {', '.join(relative)}")


@check("identity.discovery.endpoints_answer", "Every advertised endpoint exists (no 404, 405 or 5xx)",
       mim="identity", source="RFC 8414 §2")
async def endpoints_answer(session: Session) -> None:
    document = await metadata(session)
    broken = []
    for name, method in ENDPOINTS.items():
        url = document.get(name)
        if isinstance(url, str) and url:
            answer = await session.http.request(method, url)
            if answer.status_code in (404, 405) or answer.status_code >= 500:
                broken.append(f"{name} {method} {url} answered {answer.status_code}")
    session.expect(not broken, "advertised endpoints that do not work: " + "; ".join(broken))


@check("identity.discovery.consistent", "Advertised grant types and client authentication methods fit together",
       mim="identity", source="RFC 8414 §2; RFC 7662 §4; RFC 7009 §2")
async def consistent(session: Session) -> None:
    document = await metadata(session)
    problems = []
    grants = document.get("grant_types_supported", ["authorization_code", "implicit"])
    if not isinstance(grants, list):
        problems.append(f"grant_types_supported is not a list: {grants!r}")
        grants = []
    if "client_credentials" not in grants:
        session.note("client_credentials is not among grant_types_supported")
    if "authorization_code" in grants and "code" not in (document.get("response_types_supported") or []):
        problems.append("authorization_code is advertised but response type code is not")
    for members, needs in AUTH_METHOD_MEMBERS.items():
        if members in document and needs not in document:
            problems.append(f"{members} is advertised without {needs}")
    for members in ("token_endpoint_auth_methods_supported", *AUTH_METHOD_MEMBERS):
        advertised = document.get(members)
        if advertised is not None and not isinstance(advertised, list):
            problems.append(f"{members} is not a list: {advertised!r}")
    token_methods = document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    if "client_credentials" in grants and isinstance(token_methods, list) and not (
            set(token_methods) - {"none"}):
        problems.append("client_credentials is advertised, but only public clients (none) may use the token endpoint")
    session.expect(not problems, "; ".join(problems))
    if isinstance(token_methods, list) and not set(SECRET_METHODS) & set(token_methods):
        session.note(f"no client secret method is advertised ({token_methods}); the token checks may not apply")


@check("identity.discovery.pkce", "Advertises PKCE with S256 (and not plain) when it offers authorization codes",
       mim="identity", source="RFC 9700 §2.1.1; RFC 8414 §2", severity="should")
async def pkce(session: Session) -> None:
    document = await metadata(session)
    if "authorization_code" not in document.get("grant_types_supported", ["authorization_code"]):
        session.skip("authorization_code is not advertised")
    advertised = document.get("code_challenge_methods_supported") or []
    session.expect("S256" in advertised, f"code_challenge_methods_supported is {advertised!r}, expected S256 in it")
    session.expect("plain" not in advertised, "code_challenge_methods_supported offers plain")


async def jwk_set(session: Session) -> list[dict[str, Any]]:
    """The keys at the advertised ``jwks_uri``; a failure unless it is a JWK Set."""
    url = endpoint(session, await metadata(session), "jwks_uri", "token verification")
    answer = await session.http.get(url)
    session.expect(answer.status_code == 200, f"jwks_uri {url} answered {answer.status_code}")
    document = body(answer)
    keys = document.get("keys") if isinstance(document, dict) else None
    session.expect(isinstance(keys, list) and all(isinstance(k, dict) and k.get("kty") for k in keys),
                   f"jwks_uri {url} is not a JWK Set (keys, each with kty): {answer.text[:200]!r}")
    return keys


@check("identity.jwks.kid", "Every published key has a kid and no two share one", mim="identity",
       source="RFC 7517 §4.5; OpenID Connect Core 1.0 §10.1.1")
async def kids(session: Session) -> None:
    keys = await jwk_set(session)
    session.expect(keys, "the JWK Set is empty: no token of this provider can be verified")
    missing = [k.get("kty") for k in keys if not k.get("kid")]
    if missing and len(keys) == 1:
        session.note("its only key has no kid; a verifier cannot tell a new key from it after a rotation")
    else:
        session.expect(not missing, f"{len(missing)} of {len(keys)} keys have no kid: a verifier cannot pick one")
    counted = Counter(str(k["kid"]) for k in keys if k.get("kid"))
    duplicates = sorted(kid for kid, times in counted.items() if times > 1)
    session.expect(not duplicates, f"kid shared by several keys: {', '.join(duplicates)}")


@check("identity.jwks.public_only", "The JWK Set holds public keys only: no private members, no symmetric keys",
       mim="identity", source="OpenID Connect Discovery 1.0 §3 (jwks_uri); RFC 7517 §9.1; RFC 7518 §6")
async def public_only(session: Session) -> None:
    keys = await jwk_set(session)
    leaks = [f"{k.get('kid', '(no kid)')}: {', '.join(m for m in PRIVATE_MEMBERS if m in k)}" for k in keys
             if any(m in k for m in PRIVATE_MEMBERS)]
    session.expect(not leaks, "the JWK Set publishes private or secret key material: " + "; ".join(leaks))
    symmetric = [str(k.get("kid", "(no kid)")) for k in keys if k.get("kty") == "oct"]
    session.expect(not symmetric, f"the JWK Set publishes symmetric (oct) keys: {', '.join(symmetric)}")


@check("identity.ppi.metadata", "The metadata validates against PPI oauth-server-metadata", mim="identity",
       source="PPI oauth-server-metadata@1.0.0", profile="mim")
async def metadata_ppi(session: Session) -> None:
    conforms(session, await metadata(session), "oauth-server-metadata@1.0.0", "the authorization server metadata")
