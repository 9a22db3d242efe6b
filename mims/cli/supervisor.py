"""Run several services as child processes and stop them all cleanly.

Children get their own session (a terminal's Ctrl-C reaches only us, so we stop
them in order) and, on Linux, a parent-death signal, so even a SIGKILL of `oup up`
leaves no orphans behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mims.cli.files import write_json
from mims.cli.services import Service, gateway_public_url, service_url
from mims.kit.settings import env_prefix

_PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10.0
#: The service whose RFC 8414 metadata names the issuer (and JWKS) the others verify tokens with.
ISSUER_SERVICE = "identity"
OAUTH_METADATA = "/.well-known/oauth-authorization-server"
#: The service in front of all others: its URL is the platform's address.
FRONT_DOOR = "gateway"
#: Written after the first demo seed, with what was seeded; while it exists `oup up` seeds no more.
DEMO_MARKER = "demo-seeded.json"
#: The services the demo is seeded through.
DEMO_NEEDS = {"identity", "context", "marketplace", "permit-check", FRONT_DOOR}
#: Written after the demo city first certified its own MIMs (see ``mims.cli.demo.certify``), with
#: each run's outcome; while it exists `oup up` certifies no more (`oup demo certify` does, anew).
CERTIFIED_MARKER = "demo-certified.json"
#: Seconds a stop waits for the background certification to end (it stops within a fraction of that).
CERTIFY_JOIN_SECONDS = 5.0
def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM this child when its parent goes away (Linux only)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class _StopRequested(BaseException):
    """Ctrl-C or SIGTERM: stop every child, then exit 0. Not an Exception, so that no step that
    tolerates failures (seeding, certifying) can swallow it."""


@dataclass
class Child:
    service: Service
    url: str
    process: subprocess.Popen[bytes]


class Supervisor:
    def __init__(self, services: list[Service], *, host: str, data_dir: Path, port_offset: int = 0,
                 demo_city: str | None = None):
        self.services = services
        self.host = host
        self.data_dir = data_dir
        self.port_offset = port_offset
        self.demo_city = demo_city
        self.children: list[Child] = []
        self.console = Console(stderr=False)
        self._stopping = False
        self._stop = threading.Event()  # tells the background certification to give up
        self._certifier: threading.Thread | None = None

    def run(self, *, ready_timeout: float) -> int:
        """Start (the issuer first, see :func:`token_settings`), wait for readiness, print the table,
        then wait for a stop signal."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        # Explicitly for SIGINT too: a shell starts background jobs with SIGINT ignored.
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            deadline = time.monotonic() + ready_timeout
            # The issuer first: the others are told its URL, which only it knows for sure.
            self._start([s for s in self.services if s.name == ISSUER_SERVICE], {})
            if self.children and not self._wait_ready(deadline):
                return 1
            issuer = self._issuer() if self.children else {}
            if issuer is None:
                return 1
            self._start([s for s in self.services if s.name != ISSUER_SERVICE], issuer)
            if not self._wait_ready(deadline):
                return 1
            self.console.print(self._table())
            self._seed_demo()
            if any(child.service.name == FRONT_DOOR for child in self.children):
                address = gateway_public_url(self.host, self.port_offset)
                self.console.print(f"The one address users need: [bold]{address}[/bold]")
            self.console.print("All services ready. Press Ctrl-C to stop.")
            # In the background: certifying takes ~10-20 s on a first start, the platform is usable meanwhile.
            self._certifier = threading.Thread(target=self._certify_demo, name="demo-certify", daemon=True)
            self._certifier.start()
            return self._watch()
        except _StopRequested:
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _seed_demo(self) -> None:
        """On first start (no marker yet) load the demo city's data through the gateway and write
        the marker with what was seeded. A failure is reported; the platform keeps running."""
        marker = self.data_dir / DEMO_MARKER
        running = {child.service.name: child for child in self.children}
        if self.demo_city is None or marker.exists() or not DEMO_NEEDS <= running.keys():
            return
        from mims.cli.demo.commands import (
            run_seed,  # here: the demo's data loads only when seeding
        )

        try:
            summary = run_seed(self.demo_city, running[FRONT_DOOR].url, self.data_dir, self.console)
        except Exception as error:  # noqa: BLE001 - any failure of the demo must leave the platform up
            self.console.print(f"[red]The {self.demo_city} demo could not be seeded: {escape(str(error))}. "
                               f"The platform runs without it; retry with `oup demo seed`.[/red]")
            return
        write_json(marker, summary.as_json())

    def _certify_demo(self) -> None:
        """On first start (no marker yet) the demo city certifies its own MIMs, so the portal has
        certificates to show, and writes the marker. A failure is reported; the platform keeps running.
        A stop ends it without keeping anything, so the next start certifies again.
        Runs in a thread of its own: the supervisor's signal handling stays on the main thread."""
        marker = self.data_dir / CERTIFIED_MARKER
        running = {child.service.name: child for child in self.children}
        if self.demo_city is None or marker.exists() or not DEMO_NEEDS <= running.keys():
            return
        from mims.cli.demo.certify import (
            certify,  # here: the conformance suite loads only when certifying
        )

        self.console.print(f"Certifying the {self.demo_city} demo's MIMs in the background (see /certificates).")
        try:
            certification = certify(self.demo_city, running[FRONT_DOOR].url, self.data_dir, running["context"].url,
                                    stop=self._stop)
        except Exception as error:  # noqa: BLE001 - any failure of the demo must leave the platform up
            if not self._stop.is_set():
                self.console.print(f"[red]The {self.demo_city} demo's MIMs could not be certified: "
                                   f"{escape(str(error))}. The platform runs without certificates; retry with "
                                   f"`oup demo certify`.[/red]")
            return
        if self._stop.is_set():
            return
        write_json(marker, certification.as_json())
        if not self._stopping:
            self.console.print(f"{certification.one_line()} Shown at {running[FRONT_DOOR].url}/certificates.")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise _StopRequested

    def _start(self, services: list[Service], issuer: dict[str, str]) -> None:
        for service in services:
            port = service.port + self.port_offset
            cmd = [sys.executable, "-m", "mims.cli", "serve", service.name,
                   "--host", self.host, "--port", str(port), "--data-dir", str(self.data_dir)]
            env = {**os.environ, **token_settings(service, issuer), **self._upstream_settings(service)}
            process = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, env=env)
            self.children.append(Child(service, service_url(service.name, self.host, self.port_offset), process))

    def _upstream_settings(self, service: Service) -> dict[str, str]:
        """``OUP_<NAME>_<UPSTREAM>_URL`` for each upstream ``service`` routes to (the gateway), at the
        ports this run uses, and the public URL of a service users reach through the gateway;
        settings made in the environment win."""
        prefix = env_prefix(service.name)
        settings = {}
        for name in service.upstreams:
            variable = f"{prefix}{name.upper().replace('-', '_')}_URL"
            if variable not in os.environ:
                settings[variable] = service_url(name, self.host, self.port_offset)
        public = f"{prefix}PUBLIC_URL"
        if service.gateway_path and any(s.name == FRONT_DOOR for s in self.services) and public not in os.environ:
            # The identifiers it mints name the address users reach it at: the gateway's.
            settings[public] = gateway_public_url(self.host, self.port_offset) + service.gateway_path
        return settings

    def _issuer(self) -> dict[str, str] | None:
        """The started issuer's ``issuer`` and ``jwks_uri`` (RFC 8414), whatever set them:
        its port, public URL or an explicit setting."""
        [child] = [c for c in self.children if c.service.name == ISSUER_SERVICE]
        try:
            document = httpx.get(f"{child.url}{OAUTH_METADATA}", timeout=5.0).json()
            return {"ISSUERS": str(document["issuer"]), "JWKS_URL": str(document["jwks_uri"])}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.console.print(f"[red]{ISSUER_SERVICE} serves no usable {OAUTH_METADATA}: {exc!r}[/red]")
            return None

    def _wait_ready(self, deadline: float) -> bool:
        pending = list(self.children)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for child in list(pending):
                    if child.process.poll() is not None:
                        self.console.print(f"[red]{child.service.name} exited with code "
                                           f"{child.process.returncode} before it was ready[/red]")
                        return False
                    try:
                        if client.get(f"{child.url}/ready").status_code == 200:
                            pending.remove(child)
                    except httpx.TransportError:
                        pass
                if pending and time.monotonic() > deadline:
                    names = ", ".join(c.service.name for c in pending)
                    self.console.print(f"[red]not ready in time: {names}[/red]")
                    return False
                if pending:
                    time.sleep(0.2)
        return True

    def _table(self) -> Table:
        table = Table(title="Open Urban Platform")
        for column in ("service", "URL", "PID"):
            table.add_column(column, no_wrap=True)
        for column in ("produces", "consumes"):
            table.add_column(column, overflow="fold")
        with httpx.Client(timeout=5.0) as client:
            for child in self.children:
                doc = client.get(f"{child.url}/.well-known/mim").json()
                fmt = lambda items: "\n".join(f"{i['ppi']}@{i['version']}" for i in items)  # noqa: E731
                table.add_row(child.service.name, child.url, str(child.process.pid),
                              fmt(doc.get("produces", [])), fmt(doc.get("consumes", [])))
        return table

    def _watch(self) -> int:
        while True:
            for child in self.children:
                if child.process.poll() is not None:
                    self.console.print(f"[red]{child.service.name} stopped unexpectedly "
                                       f"(exit code {child.process.returncode}); stopping all[/red]")
                    return 1
            time.sleep(0.5)

    def _stop_all(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._stop.set()
        # A second Ctrl-C while we stop must not leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in self.children:
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self._certifier is not None:
            self._certifier.join(CERTIFY_JOIN_SECONDS)  # stopped, it keeps nothing; a write under way may end
        if self.children:
            self.console.print("All services stopped.")


def token_settings(service: Service, issuer: dict[str, str]) -> dict[str, str]:
    """``OUP_<MIM>_ISSUERS`` and ``OUP_<MIM>_JWKS_URL`` naming the platform's issuer, so a service
    that verifies tokens trusts the one `oup up` started; settings made in the environment win."""
    prefix = env_prefix(service.name)
    return {
        prefix + name: value
        for name, value in issuer.items()
        if prefix + name not in os.environ and f"OUP_{name}" not in os.environ
    }
