"""Cached @contexts fetched from a real HTTP server, served as text/plain (clauses 5.13.1 and 5.13.5)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from mims.context.ngsild.context import JSONLD_CONTEXT_REL
from mims.context.service import create_app

CONTEXTS = "/ngsi-ld/v1/jsonldContexts"
ENTITIES = "/ngsi-ld/v1/entities"


class ContextServer:
    """A plain HTTP server answering every GET with ``document`` as text/plain, counting requests."""

    def __init__(self) -> None:
        self.document: dict = {"@context": {"Depot": "https://example.org/v1/Depot"}}
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook
                server.requests += 1
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/context.jsonld"


@pytest.fixture
def context_server() -> Iterator[ContextServer]:
    server = ContextServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture(params=["sqlite", "postgresql"])
def remote_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with TestClient(create_app(data_dir=tmp_path, database_url=database_url, jsonld_remote=True)) as client:
        yield client


def link(url: str) -> str:
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def test_text_plain_context_is_fetched_once_cached_and_reloaded(remote_broker, context_server):
    url = context_server.url
    entity = {"id": "urn:ngsi-ld:Depot:1", "type": "Depot"}
    assert remote_broker.post(ENTITIES, json=entity, headers={"Link": link(url)}).status_code == 201
    stored = remote_broker.get(f"{ENTITIES}/{entity['id']}").json()
    assert stored["type"] == "https://example.org/v1/Depot"
    assert remote_broker.get(f"{ENTITIES}/{entity['id']}", headers={"Link": link(url)}).json() == entity
    assert context_server.requests == 1
    [info] = remote_broker.get(CONTEXTS, params={"details": "true"}).json()
    assert info["URL"] == url and info["kind"] == "Cached" and info["numberOfHits"] == 2

    context_server.document = {"@context": {"Depot": "https://example.org/v2/Depot"}}
    assert remote_broker.delete(f"{CONTEXTS}/{info['localId']}", params={"reload": "true"}).status_code == 204
    assert context_server.requests == 2
    [reloaded] = remote_broker.get(CONTEXTS, params={"details": "true"}).json()
    assert reloaded["numberOfHits"] == 0
    # Resolution now uses the reloaded content, under which the stored v1 type no longer compacts.
    assert remote_broker.get(f"{ENTITIES}/{entity['id']}", headers={"Link": link(url)}).json()["type"] == (
        "https://example.org/v1/Depot"
    )

    context_server.httpd.shutdown()
    context_server.httpd.server_close()
    failed = remote_broker.delete(f"{CONTEXTS}/{info['localId']}", params={"reload": "true"})
    assert failed.status_code == 504, failed.text
    assert failed.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"
    assert remote_broker.get(CONTEXTS).json() == [url]  # the stored copy stays


def test_deleting_a_cached_context_downloads_it_again_on_next_use(remote_broker, context_server):
    url = context_server.url
    entity = {"id": "urn:ngsi-ld:Depot:2", "type": "Depot"}
    assert remote_broker.post(ENTITIES, json=entity, headers={"Link": link(url)}).status_code == 201
    assert remote_broker.delete(f"{CONTEXTS}/{quote(url, safe='')}").status_code == 204
    assert remote_broker.get(CONTEXTS).json() == []
    remote_broker.get(f"{ENTITIES}/{entity['id']}", headers={"Link": link(url)})
    assert context_server.requests == 2
    assert remote_broker.get(CONTEXTS, params={"kind": "Cached"}).json() == [url]
