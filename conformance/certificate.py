"""Certificates: a compact JWS, signed with the certifying authority's Ed25519 key, that states what
was certified (target, MIM, profile, declared PPIs, suite version, counts) and binds the report by
its SHA-256, so that a city can check both the signature and that the report it reads is the one
certified. Issued only for a certifiable report.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from joserfc import jwt
from joserfc.errors import InvalidPayloadError, JoseError
from joserfc.jwk import OKPKey
from joserfc.util import urlsafe_b64decode

from conformance.runner import Report

TYP = "oup-conformance-certificate+jwt"
ALG = "Ed25519"
"""RFC 9864's fully specified algorithm (the polymorphic ``EdDSA`` is deprecated)."""
VALIDITY_DAYS = 365
PRIVATE_FILE, PUBLIC_FILE = "authority.private.jwk", "authority.public.jwk"
AUTHORITY_MEMBER = "authority"
"""A JWK member (RFC 7517 §4 allows more) naming the certifying authority, the certificates' ``iss``."""
CLOCK_SKEW = 300
"""Seconds an ``iat`` may lie ahead of the verifier's clock."""

Reason = Literal["other-key", "signature", "malformed", "type", "expired", "not-yet-valid", "report-mismatch"]
"""Why a certificate does not verify: signed by another key than the authority's; a signature that
does not hold; claims that are not a certificate's (no JSON object, no integer ``exp``); a JWS of
another ``typ``; past its ``exp``; ``iat`` ahead of the clock; a report other than the certified one."""


class NotCertifiable(Exception):
    """The report has must-checks that failed, broke or were not run; ``failed`` lists their ids."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__("not certifiable: must-checks failed, broke or were not run: "
                         + (", ".join(failed) or "no checks ran"))
        self.failed = failed


class InvalidCertificate(Exception):
    """The certificate does not verify: ``reason`` says which check failed, the message how."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


class BadKey(Exception):
    """A key file that is not an Ed25519 JWK (a usage error, not a verdict on a certificate)."""


@dataclass(frozen=True)
class Authority:
    name: str
    key: OKPKey


def keygen(out: Path, authority: str) -> tuple[Path, Path]:
    """A fresh Ed25519 key pair in ``out``: the private JWK (readable by its owner only) and the
    public JWK to hand to verifiers; ``kid`` is the RFC 7638 thumbprint."""
    key = OKPKey.generate_key("Ed25519")
    kid = key.thumbprint()
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / PRIVATE_FILE, out / PUBLIC_FILE
    document = {**key.as_dict(private=True), "kid": kid, "alg": ALG, "use": "sig", AUTHORITY_MEMBER: authority}
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(document, file, indent=2)
    os.chmod(private, 0o600)  # also when the file existed with a wider mode
    public.write_text(json.dumps({**key.as_dict(private=False), "kid": kid, "alg": ALG, "use": "sig",
                                  AUTHORITY_MEMBER: authority}, indent=2))
    return private, public


def load_authority(path: Path) -> Authority:
    """The authority of a JWK file written by :func:`keygen` (private to issue, public to verify)."""
    try:
        document = json.loads(path.read_text())
        name = str(document.pop(AUTHORITY_MEMBER, "unnamed authority"))
        key = OKPKey.import_key(document)
    except (OSError, ValueError, JoseError) as error:
        raise BadKey(f"{path} is not an Ed25519 JWK: {error}") from error
    if key.as_dict().get("crv") != "Ed25519":
        raise BadKey(f"{path} is not an Ed25519 key")
    return Authority(name, key)


def report_hash(report_bytes: bytes) -> str:
    return f"sha256:{hashlib.sha256(report_bytes).hexdigest()}"


def issue(report: Report, report_bytes: bytes, authority: Authority, days: int = VALIDITY_DAYS,
          now: int | None = None) -> str:
    """The certificate for ``report`` (whose JSON form is ``report_bytes``, as written);
    NotCertifiable when any must-check failed, broke or was not run."""
    if not report.certifiable:
        raise NotCertifiable([r.check.id for r in report.blocking])
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": authority.name, "sub": report.target.url, "mim": report.target.mim, "profile": report.target.profile,
        "ppis": report.declared, "suiteVersion": report.suite_version, "iat": issued, "exp": issued + days * 86400,
        "counts": report.counts(), "passed": [r.check.id for r in report.results if r.status == "passed"],
        "reportHash": report_hash(report_bytes),
    }
    header = {"typ": TYP, "alg": ALG, "kid": authority.key.thumbprint()}
    return jwt.encode(header, claims, authority.key, algorithms=[ALG])


def verify(certificate: str, authority: Authority, report_bytes: bytes | None = None,
           now: int | None = None) -> dict[str, Any]:
    """The claims of ``certificate`` once its signature (by ``authority``), type, expiry and, given
    ``report_bytes``, report hash hold; else InvalidCertificate saying which does not."""
    try:
        token = jwt.decode(certificate.strip(), authority.key, algorithms=[ALG])
    except InvalidPayloadError as error:
        raise InvalidCertificate("malformed", f"the signed claims are not a JSON object: {error}") from error
    except JoseError as error:
        kid = _unverified_kid(certificate)
        if kid and kid != authority.key.thumbprint():
            raise InvalidCertificate("other-key", f"signed by another key (kid {kid}), not by {authority.name} "
                                                  f"(kid {authority.key.thumbprint()})") from error
        raise InvalidCertificate("signature",
                                 f"the signature does not verify with {authority.name}'s key: {error}") from error
    if token.header.get("typ") != TYP:
        raise InvalidCertificate("type", f"typ is {token.header.get('typ')!r}, expected {TYP!r}")
    claims = dict(token.claims)
    moment = int(time.time()) if now is None else now
    if not _is_int(claims.get("exp")):
        raise InvalidCertificate("malformed", "the certificate has no expiry (exp)")
    if moment >= claims["exp"]:
        raise InvalidCertificate("expired", f"expired at {_utc(claims['exp'])}")
    if _is_int(claims.get("iat")) and claims["iat"] > moment + CLOCK_SKEW:
        raise InvalidCertificate("not-yet-valid", "issued in the future (iat)")
    if report_bytes is not None and claims.get("reportHash") != report_hash(report_bytes):
        raise InvalidCertificate("report-mismatch", f"the report's hash {report_hash(report_bytes)} is not the "
                                                    f"certified {claims.get('reportHash')}: the report is not the "
                                                    "one certified")
    return claims


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utc(seconds: int) -> str:
    """``seconds`` since the epoch as UTC time, or the number itself when no calendar holds it."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def _unverified_kid(certificate: str) -> str | None:
    try:
        header = json.loads(urlsafe_b64decode(certificate.strip().split(".")[0].encode()))
        return header.get("kid") if isinstance(header, dict) else None
    except (ValueError, IndexError):
        return None
