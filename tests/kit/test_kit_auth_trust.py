"""Trust between cities: trust list documents, and tokens of trusted foreign issuers."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from mims.kit.auth import (
    InvalidToken,
    InvalidTrustList,
    KeySetUnavailable,
    TokenVerifier,
    TrustList,
    TrustListFile,
    TrustListUrl,
)
from mims.kit.auth.trust import check_trust_list

ROTTERDAM = "https://id.rotterdam.example"
DEN_HAAG = "https://id.denhaag.example"
UTRECHT = "https://sso.utrecht.example/realms/inwoners"
PERMITS = "https://permits.rotterdam.example"

OWN_KEY = ECKey.generate_key("P-256", {"kid": "rdam-1"})
DEN_HAAG_KEY = ECKey.generate_key("P-256", {"kid": "dh-1"})
UTRECHT_KEY = RSAKey.generate_key(2048, {"kid": "ut-1"})

JWKS = {
    f"{DEN_HAAG}/jwks": KeySet([DEN_HAAG_KEY]).as_dict(private=False),
    f"{UTRECHT}/protocol/openid-connect/certs": KeySet([UTRECHT_KEY]).as_dict(private=False),
}


def den_haag(**changes: Any) -> dict[str, Any]:
    entry = {
        "issuer": DEN_HAAG,
        "jwks_uri": f"{DEN_HAAG}/jwks",
        "name": "Gemeente Den Haag",
        "scope_map": {"permit:submit": ["permit:submit"], "inwoner": ["context:read", "permit:submit"]},
        "allowed_audiences": [PERMITS, ROTTERDAM],
        **changes,
    }
    return {name: value for name, value in entry.items() if value is not None}


def utrecht(**changes: Any) -> dict[str, Any]:
    """A generic OpenID provider (Keycloak-like): access tokens typed JWT, client in azp."""
    entry = {
        "issuer": UTRECHT,
        "jwks_uri": f"{UTRECHT}/protocol/openid-connect/certs",
        "scope_map": {"inwoner": ["context:read"]},
        "allowed_audiences": [PERMITS],
        "accepted_typ": ["JWT", "at+jwt"],
        "client_id_claim": "azp",
        **changes,
    }
    return {name: value for name, value in entry.items() if value is not None}


def mint(key: Key, alg: str = "ES256", *, typ: str = "at+jwt", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": DEN_HAAG,
        "aud": PERMITS,
        "sub": "citizen-7",
        "client_id": "mijn-den-haag",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "permit:submit profiel",
        **claims,
    }
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": typ}, {k: v for k, v in body.items() if v is not None}, key)


class Static:
    """A trust source with a fixed list (what a file or URL source hands out)."""

    def __init__(self, *entries: dict[str, Any]) -> None:
        self.list = TrustList.from_document({"issuers": list(entries)})

    async def current(self) -> TrustList:
        return self.list

    async def aclose(self) -> None:
        pass


class Issuers:
    """The foreign issuers' JWKS endpoints on one mock transport, counting fetches per URL."""

    def __init__(self) -> None:
        self.fetches: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.fetches[url] = self.fetches.get(url, 0) + 1
        return httpx.Response(200, json=JWKS[url]) if url in JWKS else httpx.Response(404)


def verifier(*entries: dict[str, Any], audience: str | None = PERMITS, **overrides: Any) -> TokenVerifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(Issuers()))
    options: dict[str, Any] = {
        "jwks": KeySet([OWN_KEY]).as_dict(private=False),
        "issuers": [ROTTERDAM],
        "audience": audience,
        "http": http,
        "trust": Static(*(entries or (den_haag(),))),
        **overrides,
    }
    return TokenVerifier(**options)


# --- tokens of foreign issuers ----------------------------------------------------------------


async def test_foreign_token_gets_only_its_mapped_platform_scopes() -> None:
    token = await verifier().verify(mint(DEN_HAAG_KEY, scope="inwoner profiel admin"))

    assert token.foreign is True
    assert token.issuer == DEN_HAAG
    assert (token.sub, token.client_id) == ("citizen-7", "mijn-den-haag")
    # "profiel" is not mapped, and their "admin" is not ours: neither grants anything.
    assert token.scopes == frozenset({"context:read", "permit:submit"})
    assert token.claims["scope"] == "inwoner profiel admin"


async def test_foreign_token_with_only_unmapped_scopes_grants_nothing() -> None:
    token = await verifier().verify(mint(DEN_HAAG_KEY, scope="profiel context:write"))

    assert token.scopes == frozenset()


async def test_own_tokens_are_still_accepted_with_their_own_scopes() -> None:
    token = await verifier().verify(mint(OWN_KEY, iss=ROTTERDAM, scope="context:write"))

    assert token.foreign is False
    assert token.issuer == ROTTERDAM
    assert token.scopes == frozenset({"context:write"})


async def test_issuer_not_on_the_list_is_refused() -> None:
    with pytest.raises(InvalidToken, match="'https://id.elsewhere.example' is not trusted"):
        await verifier().verify(mint(DEN_HAAG_KEY, iss="https://id.elsewhere.example"))


async def test_audience_the_issuer_is_not_trusted_for_is_refused() -> None:
    with pytest.raises(InvalidToken, match="not trusted for audience 'https://context.rotterdam.example'"):
        await verifier(audience=None).verify(mint(DEN_HAAG_KEY, aud="https://context.rotterdam.example"))


async def test_allowed_audience_that_is_not_ours_is_refused() -> None:
    """ROTTERDAM is allowed for Den Haag, but this verifier is the permits service."""
    with pytest.raises(InvalidToken, match="aud"):
        await verifier().verify(mint(DEN_HAAG_KEY, aud=ROTTERDAM))


async def test_one_allowed_audience_among_several_is_enough() -> None:
    token = await verifier().verify(mint(DEN_HAAG_KEY, aud=["https://elsewhere.example", PERMITS]))

    assert token.sub == "citizen-7"


async def test_trust_that_has_ended_is_refused() -> None:
    ended = den_haag(valid_until="2026-01-01T00:00:00Z")

    with pytest.raises(InvalidToken, match="trust in issuer 'https://id.denhaag.example' ended"):
        await verifier(ended).verify(mint(DEN_HAAG_KEY))


async def test_trust_until_a_future_moment_holds() -> None:
    token = await verifier(den_haag(valid_until="2999-01-01T00:00:00+01:00")).verify(mint(DEN_HAAG_KEY))

    assert token.foreign


async def test_a_key_of_one_issuer_cannot_sign_for_another() -> None:
    checking = verifier(den_haag(), utrecht(accepted_typ=None, client_id_claim=None))
    # Utrecht's key, claiming to be Den Haag: Den Haag's key set has no such key.
    with pytest.raises(InvalidToken, match="no published RS256 signing key with kid 'ut-1'"):
        await checking.verify(mint(UTRECHT_KEY, "RS256"))
    # Our own key, even with Den Haag's kid, does not verify as Den Haag.
    impostor = ECKey.import_key(OWN_KEY.as_dict(private=True), {"kid": "dh-1"})
    with pytest.raises(InvalidToken, match="signature does not verify"):
        await checking.verify(mint(impostor))
    # And a foreign key cannot sign for us.
    with pytest.raises(InvalidToken, match="no published ES256 signing key with kid 'dh-1'"):
        await checking.verify(mint(DEN_HAAG_KEY, iss=ROTTERDAM))


async def test_each_foreign_issuers_keys_come_from_its_own_jwks_uri() -> None:
    issuers = Issuers()
    http = httpx.AsyncClient(transport=httpx.MockTransport(issuers))
    checking = verifier(den_haag(), utrecht(), http=http)

    await checking.verify(mint(DEN_HAAG_KEY))
    await checking.verify(mint(DEN_HAAG_KEY))
    await checking.verify(mint(UTRECHT_KEY, "RS256", typ="JWT", iss=UTRECHT, scope="inwoner", azp="portal"))

    assert issuers.fetches == {f"{DEN_HAAG}/jwks": 1, f"{UTRECHT}/protocol/openid-connect/certs": 1}


async def test_generic_openid_provider_tokens_per_its_trust_entry() -> None:
    """typ JWT, the client in azp and no jti or client_id, as many providers issue them."""
    token = mint(UTRECHT_KEY, "RS256", typ="JWT", iss=UTRECHT, scope="inwoner", azp="portal", jti=None, client_id=None)

    accepted = await verifier(utrecht()).verify(token)

    assert (accepted.client_id, accepted.scopes) == ("portal", frozenset({"context:read"}))
    strict = utrecht(accepted_typ=None, client_id_claim=None)
    with pytest.raises(InvalidToken, match="typ header 'JWT' is not \"at\\+jwt\""):
        await verifier(strict).verify(token)


async def test_generic_provider_token_without_its_client_claim_is_refused() -> None:
    token = mint(UTRECHT_KEY, "RS256", typ="JWT", iss=UTRECHT, scope="inwoner", client_id=None)

    with pytest.raises(InvalidToken, match="Missing claim: 'azp'"):
        await verifier(utrecht()).verify(token)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": -600}, "expired"),
        ({"nbf": 600}, "not yet valid"),
        ({"sub": None}, "Missing claim: 'sub'"),
        ({"aud": [7]}, "aud"),
    ],
)
async def test_foreign_tokens_are_checked_like_ours(claims: dict[str, Any], reason: str) -> None:
    """``exp`` and ``nbf`` are given as seconds from now, taken when the test runs."""
    now = int(time.time())
    claims = {name: now + value if name in ("exp", "nbf") else value for name, value in claims.items()}
    with pytest.raises(InvalidToken, match=reason):
        await verifier().verify(mint(DEN_HAAG_KEY, **claims))


async def test_foreign_key_set_unavailable_is_the_servers_problem() -> None:
    gone = den_haag(jwks_uri=f"{DEN_HAAG}/moved")

    with pytest.raises(KeySetUnavailable, match="moved"):
        await verifier(gone).verify(mint(DEN_HAAG_KEY))


async def test_a_trust_list_alone_is_enough_for_a_verifier() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(Issuers()))
    checking = TokenVerifier(audience=PERMITS, trust=Static(den_haag()), http=http)

    assert (await checking.verify(mint(DEN_HAAG_KEY))).foreign
    with pytest.raises(InvalidToken, match="not trusted"):
        await checking.verify(mint(OWN_KEY, iss=ROTTERDAM))


def test_a_verifier_needs_someone_to_trust() -> None:
    with pytest.raises(ValueError, match="at least one trusted issuer"):
        TokenVerifier(audience=PERMITS)


# --- trust list documents -----------------------------------------------------------------------


def test_the_ppi_examples_load() -> None:
    folder = Path(__file__).parents[2] / "ppi_schemas" / "trust-list"
    for example in sorted(folder.glob("*/examples/valid/*.json")):
        assert TrustList.from_document(json.loads(example.read_text()), example.name).document()["issuers"] is not None


def test_duplicate_issuers_are_refused_naming_both() -> None:
    reason = "/issuers/1/issuer: issuer https://id.denhaag.example is already listed at /issuers/0"
    with pytest.raises(InvalidTrustList, match=reason):
        TrustList.from_document({"issuers": [den_haag(), den_haag(name="Den Haag again")]}, "trust.json")


def test_every_problem_of_an_invalid_document_is_listed() -> None:
    document = {"issuers": [den_haag(jwks_uri=None, scope_map={"inwoner": ["root"]}, valid_until="tomorrow")]}

    pointers = {pointer for pointer, _ in check_trust_list(document)}

    assert pointers == {"/issuers/0/jwks_uri", "/issuers/0/scope_map/inwoner/0", "/issuers/0/valid_until"}


def test_the_document_is_given_back_as_listed() -> None:
    document = {"issuers": [den_haag(), utrecht()]}

    assert TrustList.from_document(document).document() == document


def write(path: Path, document: Any, stamp: int) -> None:
    path.write_text(json.dumps(document))
    os.utime(path, ns=(stamp, stamp))


async def test_a_trust_list_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    write(path, {"issuers": [den_haag()]}, 1_000_000_000)
    source = TrustListFile(path, check_interval=0)
    first = await source.current()
    assert first.get(DEN_HAAG) is not None

    assert await source.current() is first  # unchanged: not parsed again
    write(path, {"issuers": [utrecht()]}, 2_000_000_000)
    changed = await source.current()

    assert (changed.get(DEN_HAAG), changed.get(UTRECHT) is not None) == (None, True)


async def test_a_broken_edit_keeps_the_last_good_list(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    write(path, {"issuers": [den_haag()]}, 1_000_000_000)
    source = TrustListFile(path, check_interval=0)

    write(path, {"issuers": [den_haag(), den_haag(name="Den Haag again")]}, 2_000_000_000)

    assert (await source.current()).get(DEN_HAAG) is not None
    with pytest.raises(InvalidTrustList, match="already listed"):
        source.reload()


@pytest.mark.parametrize("content", ["{not json", '{"issuers": [{}]}'])
def test_an_invalid_file_fails_at_once(tmp_path: Path, content: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(content)

    with pytest.raises(InvalidTrustList, match=str(path)):
        TrustListFile(path)


async def test_a_verifier_follows_the_trust_list_file(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    write(path, {"issuers": [den_haag()]}, 1_000_000_000)
    checking = verifier(trust=TrustListFile(path, check_interval=0))
    token = mint(DEN_HAAG_KEY)
    assert (await checking.verify(token)).foreign

    write(path, {"issuers": []}, 2_000_000_000)

    with pytest.raises(InvalidToken, match="not trusted"):
        await checking.verify(token)  # also when it verified (and was cached) before


async def test_a_published_trust_list_is_fetched_and_kept() -> None:
    published = "https://id.rotterdam.example/trust-list"
    answers = [httpx.Response(200, json={"issuers": [den_haag()]}), httpx.Response(503)]
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answers.pop(0)))
    source = TrustListUrl(published, ttl=0, retry=0, http=http)

    assert (await source.current()).get(DEN_HAAG) is not None
    assert (await source.current()).get(DEN_HAAG) is not None  # the failed refetch kept it
    assert answers == []


@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.Response(200, json={"issuers": [{}]})])
async def test_no_published_trust_list_yet_means_foreign_tokens_cannot_be_checked(answer: httpx.Response) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer))
    checking = verifier(trust=TrustListUrl("https://id.rotterdam.example/trust-list", http=http))

    with pytest.raises(KeySetUnavailable, match="trust list at https://id.rotterdam.example/trust-list unavailable"):
        await checking.verify(mint(DEN_HAAG_KEY))
