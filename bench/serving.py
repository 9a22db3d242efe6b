"""A service of the platform served by uvicorn on a free loopback port, in its own process or in a
thread of this one, as a benchmark's (or a test's) target."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn


def _ephemeral_low() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_offset(ports: list[int]) -> int:
    """A non-zero offset that moves every one of ``ports`` onto a loopback port that is free now.

    The ports come from below the kernel's ephemeral range: the source port of an outgoing
    connection made meanwhile can never take one before the server binds it."""
    low, high = 10000, _ephemeral_low()
    spread = max(ports) - min(ports)
    for _ in range(200):
        offset = random.randrange(low, high - spread) - min(ports)
        if offset and all(_bindable(port + offset) for port in ports):
            return offset
    raise RuntimeError("no free loopback ports below the ephemeral range")


def free_port() -> int:
    """A loopback port nothing listens on, below the ephemeral range (see ``free_port_offset``)."""
    return 10000 + free_port_offset([10000])


@contextlib.contextmanager
def uvicorn_served(factory: str, port: int, environment: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """The app ``factory`` (``package.module:function``) served on 127.0.0.1:``port`` with
    ``environment`` added, once its ``/health`` answers; stopped on exit."""
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **environment},
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", server)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the uvicorn server exited at start-up")
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the uvicorn server did not start within 60 s")


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening while the block runs: connecting to it is
    refused at once, and no server or outgoing connection can take it meanwhile."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextlib.contextmanager
def served(app: Any, port: int) -> Iterator[str]:
    """``app`` listening on 127.0.0.1:``port`` until the block ends; its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
