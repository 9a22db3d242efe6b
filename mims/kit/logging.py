"""Structured JSON logs, one object per line, each carrying the request id.

Operators grep and ship these lines, so every line has the same shape: time, level,
logger, message, the MIM's name and the id of the request being served (``null``
outside a request). The id travels in a context variable, so log calls anywhere in
a request (also in worker threads) pick it up without passing it around.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# uvicorn adds an ANSI-coloured copy of some messages; a JSON line wants only the plain one.
_NOT_LOGGED = (*RESERVED_ATTRS, "color_message")

request_id_var: ContextVar[str | None] = ContextVar("oup_request_id", default=None)


def current_request_id() -> str | None:
    """The ``X-Request-ID`` of the request being served, if any."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (as ``logging.lastResort`` does),
    so redirecting stderr after start-up still captures the logs."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr


def configure_logging(level: str, mim: str) -> None:
    """Route the root logger through one JSON handler for ``mim``.

    Idempotent: a handler installed by an earlier call is replaced, never doubled;
    handlers others installed (a test harness, say) are left alone.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"mim": mim},
            timestamp=True,
            reserved_attrs=_NOT_LOGGED,
        )
    )
    root.addHandler(handler)
    root.setLevel(level)
