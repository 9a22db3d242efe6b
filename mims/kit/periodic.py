"""Work repeated in the background while a service runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


@asynccontextmanager
async def every(interval: float, work: Callable[[], Awaitable[None]], logger: logging.Logger,
                failure: str) -> AsyncIterator[None]:
    """Run ``work`` every ``interval`` seconds while the context is open.

    A failing round is logged (``failure``) and the next one runs as planned; leaving the
    context cancels the loop and waits for it.
    """

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except Exception:
                logger.warning(failure, exc_info=True)

    task = asyncio.create_task(loop(), name=failure)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
