"""The certificates a city shows: conformance runs kept in a folder, read and verified as files.

The folder (gateway setting ``portal_conformance_dir``, by default ``<data_dir>/conformance``)
holds the certifying authority's public key(s) as ``*.public.jwk`` (what ``oup conformance
keygen`` writes as ``authority.public.jwk``) and one folder per run under ``runs/<name>/``, as
``oup conformance run --out <folder>/runs/<name> --sign-key ...`` writes it: ``report.json``,
``report.junit.xml``, ``report.html`` and, for a certified run, ``certificate.jws``.

Every certificate is verified with ``conformance.certificate`` against those keys (and its run's
``report.json``), never by code of its own: what a visitor is told is what ``oup conformance
verify`` would say.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from joserfc import jws
from joserfc.errors import JoseError

from conformance import certificate
from conformance.cli import CERTIFICATE_FILE
from conformance.reports import FILES

RUNS = "runs"
KEYS = "*.public.jwk"
REPORT_JSON, REPORT_HTML = FILES["json"], FILES["html"]
#: A run's folder name: what may appear in a URL path, never ``..`` or a separator.
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

State = Literal["valid", "expired", "invalid", "unverifiable", "uncertified"]
#: Why a certificate does not verify, as the portal words it (the message of ``InvalidCertificate``
#: stays the technical detail).
Reason = Literal["other-key", "signature", "type", "expired", "future", "report", "no-key", "unreadable"]
_REASONS: tuple[tuple[str, Reason], ...] = (
    ("signed by another key", "other-key"), ("the signature does not verify", "signature"),
    ("typ is", "type"), ("expired at", "expired"), ("has no expiry", "expired"),
    ("issued in the future", "future"), ("the report's hash", "report"),
)


@dataclass(frozen=True)
class Verdict:
    """What verifying a certificate found: ``valid`` with the authority that signed it, or why not."""

    valid: bool
    authority: str | None = None
    reason: Reason | None = None
    detail: str = ""
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> State:
        if self.valid:
            return "valid"
        if self.reason == "expired":
            return "expired"
        return "unverifiable" if self.reason == "no-key" else "invalid"


@dataclass(frozen=True)
class Run:
    """One kept conformance run: its report's summary, its checks and its certificate's verdict."""

    name: str
    target: str
    mim: str
    profile: str
    suite_version: str
    certifiable: bool
    counts: dict[str, int]
    checks: list[dict[str, Any]]
    verdict: Verdict | None  # None: the run has no certificate
    issued: datetime | None
    expires: datetime | None
    has_html: bool

    @property
    def state(self) -> State:
        return self.verdict.state if self.verdict is not None else "uncertified"


def conformance_dir(settings: Any) -> Path:
    """The folder of kept runs: ``portal_conformance_dir``, else ``<data_dir>/conformance``."""
    configured = settings.portal_conformance_dir
    return Path(configured) if configured is not None else Path(settings.data_dir) / "conformance"


def authorities(folder: Path) -> list[certificate.Authority]:
    """The certifying authorities whose public keys lie in ``folder``; unreadable key files are
    left out (a private key put there by mistake is used only for its public half)."""
    found = []
    for path in sorted(folder.glob(KEYS)):
        try:
            found.append(certificate.load_authority(path))
        except certificate.BadKey:
            continue
    return found


def verify(text: str, keys: list[certificate.Authority], report_bytes: bytes | None = None) -> Verdict:
    """Verify ``text`` with each authority's key until one holds; else the most telling reason
    (that of the key that signed it, when one of them did)."""
    if not keys:
        return Verdict(False, reason="no-key")
    failures: list[str] = []
    for authority in keys:
        try:
            claims = certificate.verify(text, authority, report_bytes)
        except certificate.InvalidCertificate as error:
            failures.append(str(error))
            continue
        return Verdict(True, authority=authority.name, claims=claims)
    telling = [message for message in failures if _reason(message) != "other-key"]
    message = (telling or failures)[0]
    return Verdict(False, reason=_reason(message), detail=message)


def _reason(message: str) -> Reason:
    return next((reason for phrase, reason in _REASONS if phrase in message), "signature")


def stated_claims(text: str) -> dict[str, Any]:
    """The claims a certificate states, read WITHOUT verifying it (to show what an invalid one
    claims); empty when it is not a compact JWS with a JSON object as payload."""
    try:
        payload = json.loads(jws.extract_compact(text.strip().encode()).payload)
    except (JoseError, ValueError, TypeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def run_names(folder: Path) -> list[str]:
    """The names of the kept runs that have a report, in name order."""
    runs = folder / RUNS
    if not runs.is_dir():
        return []
    return sorted(entry.name for entry in runs.iterdir()
                  if RUN_NAME.match(entry.name) and (entry / REPORT_JSON).is_file())


def read_run(folder: Path, name: str, keys: list[certificate.Authority] | None = None) -> Run | None:
    """Run ``name`` with its certificate verified; None when there is no such run (or the name
    could point outside the folder) or its report is not a conformance report."""
    if not RUN_NAME.match(name):
        return None
    place = folder / RUNS / name
    try:
        report_bytes = (place / REPORT_JSON).read_bytes()
        report = json.loads(report_bytes)
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or not isinstance(report.get("target"), dict):
        return None
    verdict, issued, expires = None, None, None
    certificate_path = place / CERTIFICATE_FILE
    if certificate_path.is_file():
        try:
            text = certificate_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            verdict = Verdict(False, reason="unreadable", detail=str(error))
        else:
            verdict = verify(text, authorities(folder) if keys is None else keys, report_bytes)
            claims = verdict.claims or stated_claims(text)
            issued, expires = _moment(claims.get("iat")), _moment(claims.get("exp"))
    target = report["target"]
    return Run(
        name=name, target=str(target.get("url", "")), mim=str(target.get("mim", "")),
        profile=str(target.get("profile", "")), suite_version=str(report.get("suite", {}).get("version", "")),
        certifiable=report.get("certifiable") is True, counts=dict(report.get("counts") or {}),
        checks=[check for check in report.get("checks") or [] if isinstance(check, dict)],
        verdict=verdict, issued=issued, expires=expires, has_html=(place / REPORT_HTML).is_file(),
    )


def list_runs(folder: Path) -> list[Run]:
    """Every kept run, the most recently certified first (runs without a certificate last)."""
    keys = authorities(folder)
    runs = [run for name in run_names(folder) if (run := read_run(folder, name, keys)) is not None]
    certified = sorted((run for run in runs if run.issued is not None), key=lambda run: run.issued, reverse=True)
    return certified + [run for run in runs if run.issued is None]


def report_html_path(folder: Path, name: str) -> Path | None:
    """The run's HTML report, when it has one (None for a name that could leave the folder)."""
    if not RUN_NAME.match(name):
        return None
    path = folder / RUNS / name / REPORT_HTML
    return path if path.is_file() else None


def _moment(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and not isinstance(value, bool) else None
