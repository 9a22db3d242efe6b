"""Request ids in and out, and the body limit enforced while the body streams in."""

from __future__ import annotations

import re

import pytest

from kit_app import client
from mims.kit.middleware import BodyLimitMiddleware


@pytest.fixture
def http(tmp_path):
    return client(tmp_path)


def test_sane_incoming_request_id_is_echoed(http):
    response = http.get("/health", headers={"X-Request-ID": "gw-42.abc:7"})
    assert response.headers["x-request-id"] == "gw-42.abc:7"


@pytest.mark.parametrize("incoming", ["", "x" * 129, "two words", "evil\u00e9", "<script>"])
def test_unsafe_or_missing_request_id_is_replaced(http, incoming):
    response = http.get("/health", headers={"X-Request-ID": incoming.encode("utf-8")})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_each_request_gets_its_own_id(http):
    ids = {http.get("/nowhere").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_body_limit_stops_reading_at_the_chunk_that_passes_it():
    consumed: list[bytes] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            consumed.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [{"type": "http.request", "body": b"x" * 10, "more_body": True} for _ in range(10)]
    sent: list[dict] = []

    async def receive():
        return chunks.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/upload", "headers": []}
    await BodyLimitMiddleware(app, max_body_bytes=25)(scope, receive, send)
    assert len(consumed) == 2  # the third chunk crosses 25 bytes and is refused
    assert sent[0]["status"] == 413
    assert len(chunks) == 7


@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_over_the_limit_may_be_answered_otherwise_than_with_the_problem(declared: bool):
    from starlette.responses import PlainTextResponse

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def answer(request, limit):
        wanted = "text/plain" in request.headers.get("accept", "")
        return PlainTextResponse(f"at most {limit} bytes", status_code=413) if wanted else None

    async def refused(accept: str) -> list[dict]:
        chunks = [{"type": "http.request", "body": b"x" * 10, "more_body": True} for _ in range(5)]
        chunks[-1]["more_body"] = False
        headers = [(b"accept", accept.encode())] + ([(b"content-length", b"50")] if declared else [])
        scope = {"type": "http", "method": "POST", "path": "/upload", "headers": headers, "query_string": b""}
        sent: list[dict] = []

        async def receive():
            return chunks.pop(0)

        async def send(message):
            sent.append(message)

        await BodyLimitMiddleware(app, max_body_bytes=25, answer=answer)(scope, receive, send)
        return sent

    plain = await refused("text/plain")
    assert plain[0]["status"] == 413 and plain[1]["body"] == b"at most 25 bytes"
    problem = await refused("application/json")
    assert problem[0]["status"] == 413
    assert (b"content-type", b"application/problem+json") in problem[0]["headers"]
