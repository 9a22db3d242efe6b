"""Run several services as child processes and stop them all cleanly.

Children get their own session (a terminal's Ctrl-C reaches only us, so we stop
them in order) and, on Linux, a parent-death signal, so even a SIGKILL of `oup up`
leaves no orphans behind.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from rich.console import Console
from rich.table import Table

from mims.cli.services import Service

_PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10.0


def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM this child when its parent goes away (Linux only)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class _StopRequested(Exception):
    """Ctrl-C or SIGTERM: stop every child, then exit 0."""


@dataclass
class Child:
    service: Service
    url: str
    process: subprocess.Popen[bytes]


class Supervisor:
    def __init__(self, services: list[Service], *, host: str, data_dir: Path, port_offset: int = 0):
        self.services = services
        self.host = host
        self.data_dir = data_dir
        self.port_offset = port_offset
        self.children: list[Child] = []
        self.console = Console(stderr=False)
        self._stopping = False

    def run(self, *, ready_timeout: float) -> int:
        """Start, wait for readiness, print the table, then wait for a stop signal."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        # Explicitly for SIGINT too: a shell starts background jobs with SIGINT ignored.
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            self._start_all()
            if not self._wait_ready(ready_timeout):
                return 1
            self.console.print(self._table())
            self.console.print("All services ready. Press Ctrl-C to stop.")
            return self._watch()
        except _StopRequested:
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise _StopRequested

    def _start_all(self) -> None:
        for service in self.services:
            port = service.port + self.port_offset
            cmd = [sys.executable, "-m", "mims.cli", "serve", service.name,
                   "--host", self.host, "--port", str(port), "--data-dir", str(self.data_dir)]
            process = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent)
            self.children.append(Child(service, f"http://{self.host}:{port}", process))

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
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
                    self.console.print(f"[red]not ready after {timeout:.0f}s: {names}[/red]")
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
        if self.children:
            self.console.print("All services stopped.")
