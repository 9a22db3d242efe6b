"""Notifications of NGSI-LD subscriptions (CIM 009 V1.8.1, clauses 5.8.6, 5.11, 6.3.6 and 7).

:func:`install` adds the outbox listener to the broker's entity writes; :func:`dispatcher` is the
background worker (SPEC ``background=``) that matches changes and delivers notifications.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mims.context.notify.dispatcher import Dispatcher, outbox_listener


def install(app: FastAPI) -> None:
    """Record every entity change in the notification outbox, waking this process's dispatcher."""
    app.state.notification_dispatcher = None

    def wake() -> None:
        if app.state.notification_dispatcher is not None:
            app.state.notification_dispatcher.wake()

    app.state.entity_listeners.append(outbox_listener(wake))


@asynccontextmanager
async def dispatcher(app: FastAPI) -> AsyncIterator[None]:
    """Run the notification dispatcher while the broker serves."""
    worker = Dispatcher(app.state.engine, app.state.context_resolver, app.state.settings)
    app.state.notification_dispatcher = worker
    worker.start()
    try:
        yield
    finally:
        app.state.notification_dispatcher = None
        await worker.stop()


__all__ = ["Dispatcher", "dispatcher", "install"]
