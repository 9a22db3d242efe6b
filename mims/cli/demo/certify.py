"""`oup demo certify`: the demo city certifies its own MIMs with the conformance suite, so that the
portal's certificates page (``<gateway>/certificates``) shows real, verifiable certificates.

It acts as a certifying authority of its own (clearly named illustrative), whose key pair lives in
``<data_dir>/conformance`` beside the runs, in the layout the portal reads (see the conformance
README, "Certificates a city shows"): the public key as ``demo-authority.public.jwk`` and the
private one as ``demo-authority.private.jwk`` (mode 0600; a real authority keeps it elsewhere).
Every call runs the suite afresh (profile ``mim``, the runner `oup conformance run` uses, in this
process) and replaces the runs ``runs/<city>-<mim>/``, so certificates are always of today's code.
Runs are kept only when every one of them got answers from its MIM, and each is written beside its
folder and then renamed into place, so an interruption never leaves a half run.

Certified: identity and context at their own URLs, the permit check through the gateway (behind
it the permit check takes the caller from the gateway). The marketplace is not: its checks need a
client allowed ``marketplace:grants``, a scope the identity MIM does not issue as `oup up` runs it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import httpx

from conformance import certificate, reports
from conformance.cli import CERTIFICATE_FILE
from conformance.registry import select
from conformance.runner import Report
from conformance.runner import run as run_checks
from conformance.session import Target
from mims.cli.demo.commands import CLIENT_ID as SEEDER_ID
from mims.cli.demo.commands import demo_client_secret, seeder_secret
from mims.cli.services import get_service, service_url

AUTHORITY = "OUP demo certification authority (illustrative)"
KEY_STEM = "demo-authority"
FOLDER = "conformance"
RUNS = "runs"
PROFILE = "mim"
CERTIFIER_ID = "demo-certifier"
CERTIFIER_SCOPES = ("permit:submit", "permit:zoning")
"""The permit check's run needs both. The identity and context runs use the seeder (a confidential
client with ``context:read context:write``)."""
OAUTH_METADATA = "/.well-known/oauth-authorization-server"
STOP_POLL_SECONDS = 0.2
DEFAULT_PORTS = {"http": 80, "https": 443}


class CertifyError(Exception):
    """The platform could not be certified at all (unreachable, no metadata); the message says why."""


@dataclass(frozen=True)
class Outcome:
    """One MIM's run: where it was run and kept, its counts, and whether it was certified."""

    mim: str
    target: str
    run: Path
    counts: dict[str, int]
    certified: bool
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {"mim": self.mim, "target": self.target, "run": self.run.name, "certified": self.certified,
                "seconds": round(self.seconds, 2), "counts": self.counts}


def authority(data_dir: Path) -> certificate.Authority:
    """The demo authority, made the first time (``conformance.certificate.keygen``) under its own
    file names, so that it sits beside any other authority's keys in the folder."""
    folder = data_dir / FOLDER
    private = folder / f"{KEY_STEM}.private.jwk"
    if not private.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            made_private, made_public = certificate.keygen(Path(scratch), AUTHORITY)
            os.replace(made_public, folder / f"{KEY_STEM}.public.jwk")
            os.replace(made_private, private)  # keygen made it 0600; a rename keeps the mode
    return certificate.load_authority(private)


def default_context_url(gateway: str) -> str:
    """The context MIM's own URL where `oup up` puts it: on the gateway's host, at the same port
    offset from its fixed port as the gateway's."""
    parts = urlsplit(gateway)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    return service_url("context", parts.hostname or "", port - get_service("gateway").port)


@dataclass(frozen=True)
class Certification:
    """The runs of one certification of a city's MIMs, and how long it took in all."""

    city: str
    outcomes: list[Outcome]
    seconds: float

    def one_line(self) -> str:
        """What was certified, for a single line of `oup up`'s output."""
        certified = [o.mim for o in self.outcomes if o.certified]
        refused = [o.mim for o in self.outcomes if not o.certified]
        line = f"Demo {self.city} certificates: {', '.join(certified) or 'none'} certified"
        if refused:
            line += f"; not certifiable: {', '.join(refused)}"
        return f"{line} ({self.seconds:.1f} s)."

    def as_json(self) -> dict[str, Any]:
        return {"city": self.city, "authority": AUTHORITY, "seconds": round(self.seconds, 2),
                "runs": [outcome.as_json() for outcome in self.outcomes]}


def certify(city: str, gateway: str, data_dir: Path, context_url: str | None = None, *,
            stop: threading.Event | None = None) -> Certification:
    """Run the checks of identity, context and the permit check against the city's platform at
    ``gateway`` and keep each run (certified when certifiable) in ``<data_dir>/conformance/runs``.
    Raises CertifyError, keeping nothing, when ``stop`` is set meanwhile or a run got no answer."""
    started = time.monotonic()
    gateway = gateway.rstrip("/")
    token_url, identity_url = _identity(gateway)
    seeder = seeder_secret(data_dir)
    certifier = demo_client_secret(data_dir, CERTIFIER_ID, "demo conformance certifier", CERTIFIER_SCOPES)
    targets = [
        Target("identity", identity_url, PROFILE, client_id=SEEDER_ID, client_secret=seeder),
        Target("context", context_url or default_context_url(gateway), PROFILE, client_id=SEEDER_ID,
               client_secret=seeder, token_url=token_url),
        Target("permit-check", f"{gateway}/permit-check", PROFILE, client_id=CERTIFIER_ID,
               client_secret=certifier, token_url=token_url),
    ]
    signer = authority(data_dir)
    runs = data_dir / FOLDER / RUNS
    done = asyncio.run(_run_all(targets, stop or threading.Event()))
    unanswered = [report.target for report in done if not _answered(report)]
    if unanswered:
        raise CertifyError("no answer from " + ", ".join(f"{t.mim} at {t.url}" for t in unanswered)
                           + "; the earlier runs are kept")
    outcomes = [_keep(report, runs / f"{city}-{report.target.mim}", signer) for report in done]
    return Certification(city, outcomes, time.monotonic() - started)


def _identity(gateway: str) -> tuple[str, str]:
    """The token endpoint and the identity MIM's own URL (its ``issuer``), from the RFC 8414
    metadata the gateway routes."""
    try:
        document = httpx.get(f"{gateway}{OAUTH_METADATA}", timeout=10.0).json()
        return str(document["token_endpoint"]), str(document["issuer"])
    except httpx.HTTPError as error:
        raise CertifyError(f"the gateway {gateway} did not answer ({type(error).__name__}: {error}); "
                           f"is the platform running?") from None
    except (ValueError, KeyError, TypeError):
        raise CertifyError(f"{gateway}{OAUTH_METADATA} is no RFC 8414 metadata") from None


async def _run_all(targets: list[Target], stop: threading.Event) -> list[Report]:
    """The runs side by side (each waits mostly on its own MIM), given up as soon as ``stop`` is set."""
    runs = asyncio.gather(*(run_checks(target, select(target.mim, PROFILE)) for target in targets))
    while not stop.is_set():
        await asyncio.wait({runs}, timeout=STOP_POLL_SECONDS)
        if runs.done():
            return list(runs.result())
    runs.cancel()
    await asyncio.gather(runs, return_exceptions=True)
    raise CertifyError("stopped while certifying; the earlier runs are kept")


def _answered(report: Report) -> bool:
    """Whether the MIM answered any of the run's requests (a run of a MIM that is gone gets none)."""
    return any(result.evidence for result in report.results)


def _keep(report: Report, out: Path, signer: certificate.Authority) -> Outcome:
    """Write the run afresh beside ``out``, sign it when certifiable, then put it in the place of the
    earlier run (no certificate of which may outlive it)."""
    for leftover in out.parent.glob(f".{out.name}.*"):  # of an interrupted earlier call
        shutil.rmtree(leftover, ignore_errors=True)
    fresh, old = (out.with_name(f".{out.name}.{kind}-{uuid4().hex[:8]}") for kind in ("new", "old"))
    try:
        paths = reports.write_reports(report, fresh)
        if report.certifiable:
            issued = certificate.issue(report, paths["json"].read_bytes(), signer)
            (fresh / CERTIFICATE_FILE).write_text(issued + "\n")
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if out.exists():
        out.rename(old)
    fresh.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    seconds = (report.finished - report.started).total_seconds()
    return Outcome(report.target.mim, report.target.url, out, report.counts(), report.certifiable, seconds)
