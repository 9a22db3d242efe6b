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
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cachetools import LRUCache
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
#: Runs (and key sets) kept read and verified, per folder; each is read again once a file changes.
CACHED_RUNS, CACHED_KEY_SETS = 4096, 64

State = Literal["valid", "expired", "invalid", "unverifiable", "uncertified"]
#: Why a certificate does not verify: the reason ``conformance.certificate`` gives, or that there is
#: no key to check it with, or no certificate file to read.
Reason = Literal[certificate.Reason, "no-key", "unreadable"]
#: A file as last seen: inode, size, modification and change time (None: no such regular file).
Stamp = tuple[int, int, int, int] | None


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
    counts: dict[str, Any]
    checks: list[dict[str, Any]]
    verdict: Verdict | None  # None: the run has no certificate
    issued: datetime | None
    expires: datetime | None
    has_html: bool

    @property
    def state(self) -> State:
        return self.verdict.state if self.verdict is not None else "uncertified"


@dataclass(frozen=True)
class Keys:
    """The certifying authorities whose public keys lie in a folder, and the key files as seen."""

    authorities: list[certificate.Authority]
    stamp: tuple[tuple[str, Stamp], ...] = ()


@dataclass(frozen=True)
class _Kept:
    """A run as read: valid while its files keep ``stamp`` and the clock stays in ``period``."""

    stamp: tuple[Any, ...]
    period: int
    claims: dict[str, Any]
    run: Run | None


_lock = threading.Lock()
_runs: LRUCache[Path, _Kept] = LRUCache(CACHED_RUNS)
_key_sets: LRUCache[Path, Keys] = LRUCache(CACHED_KEY_SETS)


def conformance_dir(settings: Any) -> Path:
    """The folder of kept runs: ``portal_conformance_dir``, else ``<data_dir>/conformance``."""
    configured = settings.portal_conformance_dir
    return Path(configured) if configured is not None else Path(settings.data_dir) / "conformance"


def keys(folder: Path) -> Keys:
    """The authorities of the key files in ``folder`` (read again only when one changes); unreadable
    key files are left out (a private key put there by mistake is used only for its public half)."""
    stamp = tuple((path.name, _stamp(path)) for path in sorted(folder.glob(KEYS)))
    with _lock:
        known = _key_sets.get(folder)
    if known is not None and known.stamp == stamp:
        return known
    found = []
    for path in sorted(folder.glob(KEYS)):
        try:
            found.append(certificate.load_authority(path))
        except certificate.BadKey:
            continue
    loaded = Keys(found, stamp)
    with _lock:
        _key_sets[folder] = loaded
    return loaded


def verify(text: str, authorities: list[certificate.Authority], report_bytes: bytes | None = None,
           now: int | None = None) -> Verdict:
    """Verify ``text`` with each authority's key until one holds; else the most telling reason
    (that of the key that signed it, when one of them did)."""
    if not authorities:
        return Verdict(False, reason="no-key")
    refusals: list[certificate.InvalidCertificate] = []
    for authority in authorities:
        try:
            claims = certificate.verify(text, authority, report_bytes, now=now)
        except certificate.InvalidCertificate as refusal:
            refusals.append(refusal)
            continue
        return Verdict(True, authority=authority.name, claims=claims)
    telling = [refusal for refusal in refusals if refusal.reason != "other-key"]
    refusal = (telling or refusals)[0]
    return Verdict(False, reason=refusal.reason, detail=str(refusal))


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


def read_run(folder: Path, name: str, known_keys: Keys | None = None, now: int | None = None) -> Run | None:
    """Run ``name`` with its certificate verified at ``now``; None when there is no such run (or the
    name could point outside the folder) or its report is not a conformance report. A run is read
    and verified again only when one of its files or the keys changed, or when ``now`` crossed its
    certificate's issue or expiry time."""
    if not RUN_NAME.match(name):
        return None
    place = folder / RUNS / name
    known_keys = keys(folder) if known_keys is None else known_keys
    moment = int(time.time()) if now is None else now
    stamp = (_stamp(place / REPORT_JSON), _stamp(place / CERTIFICATE_FILE), _stamp(place / REPORT_HTML),
             known_keys.stamp)
    if stamp[0] is None:
        return None
    with _lock:
        kept = _runs.get(place)
    if kept is None or kept.stamp != stamp or kept.period != _period(kept.claims, moment):
        kept = _read(place, name, known_keys.authorities, moment, stamp)
        with _lock:
            _runs[place] = kept
    return kept.run


def list_runs(folder: Path, known_keys: Keys | None = None, now: int | None = None) -> list[Run]:
    """Every kept run, the most recently certified first (runs without a certificate last)."""
    known_keys = keys(folder) if known_keys is None else known_keys
    moment = int(time.time()) if now is None else now
    runs = [run for name in run_names(folder) if (run := read_run(folder, name, known_keys, moment)) is not None]
    certified = sorted((run for run in runs if run.issued is not None), key=lambda run: run.issued, reverse=True)
    return certified + [run for run in runs if run.issued is None]


def report_html_path(folder: Path, name: str) -> Path | None:
    """The run's HTML report, when it has one (None for a name that could leave the folder)."""
    if not RUN_NAME.match(name):
        return None
    path = folder / RUNS / name / REPORT_HTML
    return path if path.is_file() else None


def _read(place: Path, name: str, authorities: list[certificate.Authority], now: int,
          stamp: tuple[Any, ...]) -> _Kept:
    try:
        report_bytes = (place / REPORT_JSON).read_bytes()
        report = json.loads(report_bytes)
    except (OSError, ValueError):
        return _Kept(stamp, 0, {}, None)
    summary = _summary(report)
    if summary is None:
        return _Kept(stamp, 0, {}, None)
    verdict, claims = None, {}
    if stamp[1] is not None:
        try:
            text = (place / CERTIFICATE_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            verdict = Verdict(False, reason="unreadable", detail=str(error))
        else:
            verdict = verify(text, authorities, report_bytes, now)
            claims = verdict.claims or stated_claims(text)
    run = Run(name=name, **summary, verdict=verdict, issued=_moment(claims.get("iat")),
              expires=_moment(claims.get("exp")), has_html=stamp[2] is not None)
    return _Kept(stamp, _period(claims, now), claims, run)


def _summary(report: Any) -> dict[str, Any] | None:
    """What a run shows of its report; None when the report is not shaped as a conformance report."""
    if not isinstance(report, dict):
        return None
    target, suite = report.get("target"), report.get("suite") or {}
    counts, checks = report.get("counts") or {}, report.get("checks") or []
    if not (isinstance(target, dict) and isinstance(suite, dict) and isinstance(counts, dict)
            and isinstance(checks, list)):
        return None
    return {"target": str(target.get("url", "")), "mim": str(target.get("mim", "")),
            "profile": str(target.get("profile", "")), "suite_version": str(suite.get("version", "")),
            "certifiable": report.get("certifiable") is True, "counts": dict(counts),
            "checks": [check for check in checks if isinstance(check, dict)]}


def _period(claims: dict[str, Any], now: int) -> int:
    """Where ``now`` lies in a certificate's life: -1 before its ``iat`` (as far as
    ``conformance.certificate`` allows), 1 at or past its ``exp``, else 0."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if _is_int(expires) and now >= expires:
        return 1
    return -1 if _is_int(issued) and issued > now + certificate.CLOCK_SKEW else 0


def _stamp(path: Path) -> Stamp:
    try:
        found = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _moment(value: Any) -> datetime | None:
    if not _is_int(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
