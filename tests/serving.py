"""An app served by uvicorn in a thread on a free loopback port, for tests that need real HTTP
(a browser, schemathesis)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from bench.serving import free_port, free_port_offset

__all__ = ["closed_port", "free_port", "free_port_offset", "served"]


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening while the block runs: connecting to it is
    refused at once, and no server or outgoing connection can take it meanwhile."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextmanager
def served(app: FastAPI, port: int) -> Iterator[str]:
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
