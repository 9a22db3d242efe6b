"""Certificates: the authority's key pair, issuing only for certifiable reports, and verification
that refuses a tampered report, an expired certificate, another key's signature and a wrong type."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from joserfc import jws, jwt
from joserfc.jwk import OKPKey

from conformance import certificate
from conformance.certificate import Authority, InvalidCertificate, NotCertifiable
from conformance.reports import report_json
from tests.conformance.test_conformance_reports import sample_report


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return certificate.keygen(tmp_path / "keys", "Gemeente Rotterdam test authority")


def certifiable_report():
    report = sample_report()
    report.results = [r for r in report.results if r.status in ("passed", "skipped") or r.check.severity == "should"]
    assert report.certifiable
    return report


def test_keygen_writes_an_ed25519_pair_private_readable_by_owner_only(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    private_jwk, public_jwk = json.loads(private.read_text()), json.loads(public.read_text())
    assert private_jwk["kty"] == "OKP" and private_jwk["crv"] == "Ed25519" and "d" in private_jwk
    assert "d" not in public_jwk and public_jwk["x"] == private_jwk["x"]
    key = OKPKey.import_key({k: v for k, v in public_jwk.items() if k != "authority"})
    assert public_jwk["kid"] == private_jwk["kid"] == key.thumbprint()  # RFC 7638
    assert certificate.load_authority(public).name == "Gemeente Rotterdam test authority"


def test_certificate_states_what_was_certified_and_verifies(keys: tuple[Path, Path]) -> None:
    report, (private, public) = certifiable_report(), keys
    written = report_json(report)
    token = certificate.issue(report, written, certificate.load_authority(private))
    header = json.loads(certificate.urlsafe_b64decode(token.split(".")[0].encode()))
    assert header == {"typ": "oup-conformance-certificate+jwt", "alg": "Ed25519",
                      "kid": json.loads(public.read_text())["kid"]}
    claims = certificate.verify(token, certificate.load_authority(public), written)
    assert claims["iss"] == "Gemeente Rotterdam test authority" and claims["sub"] == "http://127.0.0.1:9"
    assert (claims["mim"], claims["profile"], claims["suiteVersion"]) == ("context", "mim", report.suite_version)
    assert claims["ppis"] == [{"ppi": "ngsi-ld-entity", "version": "1.0.0"}]
    assert claims["exp"] - claims["iat"] == 365 * 86400 and abs(claims["iat"] - time.time()) < 60
    assert claims["counts"] == report.counts() and claims["passed"] == ["context.entities.create"]
    assert claims["reportHash"] == certificate.report_hash(written) and claims["reportHash"].startswith("sha256:")


def test_a_tampered_report_fails_the_hash(keys: tuple[Path, Path]) -> None:
    report, (private, public) = certifiable_report(), keys
    written = report_json(report)
    token = certificate.issue(report, written, certificate.load_authority(private))
    tampered = written.replace(b'"status": "skipped"', b'"status": "passed"')
    assert tampered != written
    with pytest.raises(InvalidCertificate, match="not the one certified") as refused:
        certificate.verify(token, certificate.load_authority(public), tampered)
    assert refused.value.reason == "report-mismatch"


def test_an_expired_certificate_fails(keys: tuple[Path, Path]) -> None:
    report, (private, public) = certifiable_report(), keys
    issued = int(time.time()) - 10 * 86400
    token = certificate.issue(report, report_json(report), certificate.load_authority(private), days=5, now=issued)
    with pytest.raises(InvalidCertificate, match="expired at") as refused:
        certificate.verify(token, certificate.load_authority(public))
    assert refused.value.reason == "expired"
    assert certificate.verify(token, certificate.load_authority(public), now=issued + 86400)["iat"] == issued


def test_a_certificate_signed_by_another_key_fails(keys: tuple[Path, Path], tmp_path: Path) -> None:
    report = certifiable_report()
    forger_private, _ = certificate.keygen(tmp_path / "forger", "Gemeente Rotterdam test authority")
    token = certificate.issue(report, report_json(report), certificate.load_authority(forger_private))
    with pytest.raises(InvalidCertificate, match="signed by another key") as refused:
        certificate.verify(token, certificate.load_authority(keys[1]))
    assert refused.value.reason == "other-key"


def test_a_forged_kid_still_fails_the_signature(keys: tuple[Path, Path]) -> None:
    """A forger who copies the authority's kid into the header still cannot produce its signature."""
    real = certificate.load_authority(keys[1])
    forger = Authority(real.name, OKPKey.generate_key("Ed25519"))
    header = {"typ": certificate.TYP, "alg": "Ed25519", "kid": real.key.thumbprint()}
    token = jwt.encode(header, {"iss": real.name, "exp": int(time.time()) + 60}, forger.key, algorithms=["Ed25519"])
    with pytest.raises(InvalidCertificate, match="signature does not verify") as refused:
        certificate.verify(token, real)
    assert refused.value.reason == "signature"


def test_a_jws_of_another_type_is_not_a_certificate(keys: tuple[Path, Path]) -> None:
    private = certificate.load_authority(keys[0])
    token = jwt.encode({"typ": "JWT", "alg": "Ed25519", "kid": private.key.thumbprint()},
                       {"exp": int(time.time()) + 60}, private.key, algorithms=["Ed25519"])
    with pytest.raises(InvalidCertificate, match="typ is 'JWT'") as refused:
        certificate.verify(token, certificate.load_authority(keys[1]))
    assert refused.value.reason == "type"


def test_an_unsigned_certificate_fails(keys: tuple[Path, Path]) -> None:
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoib3VwLWNvbmZvcm1hbmNlLWNlcnRpZmljYXRlK2p3dCJ9.eyJleHAiOjk5OTk5OTk5OTl9."
    with pytest.raises(InvalidCertificate) as refused:
        certificate.verify(unsigned, certificate.load_authority(keys[1]))
    assert refused.value.reason == "signature"


def _signed(authority: Authority, claims: bytes) -> str:
    header = {"typ": certificate.TYP, "alg": "Ed25519", "kid": authority.key.thumbprint()}
    return jws.serialize_compact(header, claims, authority.key, algorithms=["Ed25519"])


@pytest.mark.parametrize(("claims", "reason"), [
    (b'{"iss": "x"}', "malformed"),  # no expiry: not a certificate, rather than an expired one
    (b'{"exp": true}', "malformed"),
    (b'[1, 2]', "malformed"),
    (b'{"exp": -1000000000000000000000000000000}', "expired"),  # before any calendar: no crash
    (b'{"exp": 99999999999, "iat": 99999999000}', "not-yet-valid"),
])
def test_each_refusal_names_its_reason(keys: tuple[Path, Path], claims: bytes, reason: str) -> None:
    authority = certificate.load_authority(keys[0])
    with pytest.raises(InvalidCertificate) as refused:
        certificate.verify(_signed(authority, claims), authority)
    assert refused.value.reason == reason


def test_a_failed_must_check_refuses_to_certify(keys: tuple[Path, Path]) -> None:
    report = sample_report()  # a must-check failed, another broke
    with pytest.raises(NotCertifiable) as refusal:
        certificate.issue(report, report_json(report), certificate.load_authority(keys[0]))
    assert refusal.value.failed == ["context.entities.duplicate", "context.subscriptions.notify"]
    assert "context.entities.duplicate" in str(refusal.value)


def test_a_report_with_no_checks_is_not_certified(keys: tuple[Path, Path]) -> None:
    report = sample_report()
    report.results = []
    with pytest.raises(NotCertifiable, match="no checks ran"):
        certificate.issue(report, report_json(report), certificate.load_authority(keys[0]))


def test_a_key_file_that_is_not_an_ed25519_jwk_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jwk"
    bad.write_text('{"kty": "oct", "k": "c2VjcmV0"}')
    with pytest.raises(certificate.BadKey):
        certificate.load_authority(bad)
