"""The suite's own notification endpoint: a tiny ASGI app served by uvicorn inside the running
event loop, collecting what a broker POSTs to it.

A subscription check cannot trust the broker's word that it notified; it needs to receive the
notification itself. The receiver listens on 127.0.0.1 (a port the kernel picks) unless the operator
gives ``--option receiver_host=HOST``: the address of this machine the broker can reach, used both to
listen on and in the endpoint URI given to the broker.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got: its headers (lower-case names) and JSON body (None if not JSON)."""

    path: str
    headers: dict[str, str]
    body: Any


class NotificationReceiver:
    """``async with NotificationReceiver(host) as receiver``: listening until the block ends.

    Each :meth:`endpoint` is a fresh path, so deliveries of one subscription are told apart from
    stray ones (a previous run's subscription the target failed to delete)."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self.deliveries: list[Delivery] = []
        self._arrived = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        app = Starlette(routes=[Route("/notify/{name}", self._receive, methods=["POST"])])
        self._config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")

    async def _receive(self, request: Request) -> Response:
        raw = await request.body()
        try:
            document: Any = json.loads(raw)
        except ValueError:
            document = None
        self.deliveries.append(Delivery(request.url.path, {k.lower(): v for k, v in request.headers.items()}, document))
        self._arrived.set()
        return Response(status_code=204)

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the receiver is not running")
        return int(self._socket.getsockname()[1])

    def endpoint(self) -> str:
        """A new notification URI on this receiver."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/notify/{uuid.uuid4().hex}"

    async def __aenter__(self) -> Self:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, 0))  # the kernel picks a free port: no race with other listeners
        self._server = uvicorn.Server(self._config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                await self.__aexit__()
                raise RuntimeError(f"the notification receiver could not listen on {self.host}")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except TimeoutError:
                self._task.cancel()
        if self._socket is not None:
            self._socket.close()
        self._server = self._task = None

    async def wait_for(self, wanted: Callable[[Delivery], bool], timeout: float) -> Delivery | None:
        """The first delivery ``wanted`` accepts, waiting up to ``timeout`` seconds; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            for delivery in self.deliveries:
                if wanted(delivery):
                    return delivery
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))
            except TimeoutError:
                pass
