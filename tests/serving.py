"""Serving for tests that need real HTTP (a browser, schemathesis): an app in a thread
(``served``, from the benchmarks' helpers), or the whole platform as ``oup up`` runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.serving import closed_port, free_port, free_port_offset, served

__all__ = ["closed_port", "free_port", "free_port_offset", "oup_up", "processes_mentioning", "served"]

ROOT = Path(__file__).resolve().parents[1]


def processes_mentioning(marker: str) -> list[int]:
    """The pids of the processes whose command line contains ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                pids.append(int(entry.name))
    return pids


@contextmanager
def oup_up(data_dir: Path, port_offset: int, *, demo: bool = False) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`oup up` run as a user runs it (a background job of a shell: SIGINT ignored), until every
    service is ready; the process and all it printed until then. Afterwards whatever is left of
    it is killed. Without ``demo`` the platform starts empty (``--no-demo``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mims.cli", "up", "--port-offset", str(port_offset), "--data-dir", str(data_dir),
         *(() if demo else ("--no-demo",))],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "COLUMNS": "200"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    printed = []
    assert proc.stdout is not None
    for line in proc.stdout:  # the supervisor prints its table once every service is ready
        printed.append(line)
        if "All services ready" in line:
            break
    try:
        yield proc, "".join(printed)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in processes_mentioning(str(data_dir)):
            os.kill(pid, signal.SIGKILL)
