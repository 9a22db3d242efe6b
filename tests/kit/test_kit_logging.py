"""One JSON log line per request, with the request id, and nothing secret in it."""

from __future__ import annotations

import json
import logging

import pytest

from kit_app import client, kit_loggers_enabled
from mims.kit.logging import configure_logging

pytestmark = pytest.mark.usefixtures(kit_loggers_enabled.__name__)


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_access_log_line_shape(tmp_path, capsys):
    http = client(tmp_path)
    capsys.readouterr()
    response = http.get("/items/7", headers={"X-Request-ID": "log-1", "Authorization": "Bearer top-secret-token"})
    assert response.status_code == 200
    err = capsys.readouterr().err
    assert "top-secret-token" not in err
    access = [line for line in _lines(err) if line["logger"] == "mims.kit.access"]
    assert len(access) == 1
    line = access[0]
    assert {k: line[k] for k in ("level", "message", "method", "path", "status", "request_id", "mim")} == {
        "level": "INFO",
        "message": "request",
        "method": "GET",
        "path": "/items/7",
        "status": 200,
        "request_id": "log-1",
        "mim": "kit-test",
    }
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert "timestamp" in line


def test_request_bodies_are_not_logged(tmp_path, capsys):
    http = client(tmp_path)
    http.post("/things", json={"name": "private-body-value", "size": 1})
    assert "private-body-value" not in capsys.readouterr().err


def test_lines_logged_inside_a_request_carry_its_id(tmp_path, capsys):
    http = client(tmp_path)
    capsys.readouterr()
    http.get("/boom", headers={"X-Request-ID": "log-500"})
    error = next(line for line in _lines(capsys.readouterr().err) if line["logger"] == "mims.kit.errors")
    assert error["request_id"] == "log-500" and error["level"] == "ERROR"
    assert "secret internals" in error["exc_info"]


def test_configuring_twice_does_not_double_lines(capsys):
    configure_logging("INFO", "one")
    configure_logging("WARNING", "two")
    logging.getLogger("test.kit").warning("once")
    logging.getLogger("test.kit").info("filtered by level")
    lines = _lines(capsys.readouterr().err)
    assert [(line["message"], line["mim"], line["request_id"]) for line in lines] == [("once", "two", None)]
