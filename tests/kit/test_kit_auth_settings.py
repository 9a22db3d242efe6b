"""The verifier a MIM gets from its settings: trust list, introspection and token cache."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from pydantic import ValidationError

from mims.kit.auth import Introspector, InvalidTrustList, TokenVerifier
from mims.kit.service import MimSpec, create_app, token_verifier
from mims.kit.settings import MimSettings

OWN = "https://id.rotterdam.example"
DEN_HAAG = "https://id.denhaag.example"
AUDIENCE = "https://permits.rotterdam.example"
KEY = ECKey.generate_key("P-256", {"kid": "dh-1"})
ENTRY = {
    "issuer": DEN_HAAG,
    "jwks_uri": f"{DEN_HAAG}/jwks",
    "scope_map": {"inwoner": ["permit:submit"]},
    "allowed_audiences": [AUDIENCE],
}


def settings(**values: object) -> MimSettings:
    return MimSettings(auth="required", jwks_url=f"{OWN}/jwks", issuers=[OWN], audience=AUDIENCE, **values)


def write_trust_list(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"issuers": list(entries)}))
    return path


async def test_the_trust_list_file_setting_makes_foreign_tokens_acceptable(tmp_path: Path) -> None:
    jwks = KeySet([KEY]).as_dict(private=False)
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=jwks)))
    verifier = token_verifier(settings(trust_list_file=write_trust_list(tmp_path, ENTRY)), http)
    now = int(time.time())
    claims = {"iss": DEN_HAAG, "aud": AUDIENCE, "sub": "c", "client_id": "x", "exp": now + 60, "scope": "inwoner"}
    token = jwt.encode({"alg": "ES256", "kid": "dh-1", "typ": "at+jwt"}, {**claims, "jti": uuid.uuid4().hex}, KEY)

    accepted = await verifier.verify(token)

    assert (accepted.foreign, accepted.scopes) == (True, frozenset({"permit:submit"}))
    await verifier.aclose()


def test_an_invalid_trust_list_file_stops_the_app_from_being_built(tmp_path: Path) -> None:
    spec = MimSpec(name="kit-test", title="t", description="d", version="1.0.0")

    with pytest.raises(InvalidTrustList, match="already listed"):
        trust_list_file = write_trust_list(tmp_path, ENTRY, ENTRY | {"name": "b"})
        create_app(spec, settings(data_dir=tmp_path, trust_list_file=trust_list_file))


def test_the_verifier_and_its_introspector_are_closed_at_shutdown(tmp_path: Path, monkeypatch) -> None:
    closed: list[str] = []

    async def recording_close(self: Introspector) -> None:
        closed.append("introspector")

    monkeypatch.setattr(Introspector, "aclose", recording_close)
    spec = MimSpec(name="kit-test", title="t", description="d", version="1.0.0")
    configured = settings(
        data_dir=tmp_path,
        introspection_url=f"{OWN}/introspect",
        introspection_client_id="permits",
        introspection_client_secret="s3cret",
        token_cache_size=0,
    )
    app = create_app(spec, configured)
    assert isinstance(app.state.token_verifier, TokenVerifier)

    with TestClient(app):
        assert closed == []

    assert closed == ["introspector"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"trust_list_file": "trust.json", "trust_list_url": f"{OWN}/trust-list"}, "not both"),
        ({"introspection_url": f"{OWN}/introspect"}, "introspection_client_id"),
        ({"token_cache_size": -1}, "token_cache_size"),
    ],
)
def test_inconsistent_settings_are_refused(values: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_the_introspection_secret_is_not_shown() -> None:
    configured = settings(
        introspection_url=f"{OWN}/introspect", introspection_client_id="permits", introspection_client_secret="s3cret"
    )

    assert "s3cret" not in repr(configured)
