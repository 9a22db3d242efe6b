"""The document loader: local contexts never touch the network; remote ones are bounded and cached."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyld import jsonld

from ppi_schemas import catalogue
from ppi_schemas.jsonld import (
    NGSI_LD_CORE_CONTEXT_URL,
    ContextNotAvailable,
    DocumentLoader,
    compact,
    expand,
    to_rdf,
    unmapped_terms,
)
from ppi_schemas.jsonld.loader import CONTEXTS_DIR, NGSI_LD_CORE_CONTEXT_LATEST_URL

SDM_DIR = Path(__file__).parent / "data" / "smart-data-models"
SDM_BUILDING = SDM_DIR / "Building" / "example-normalized.jsonld"
REMOTE_URL = "https://contexts.example.org/thing.jsonld"
REMOTE_CONTEXT = {"@context": {"thing": "https://example.org/thing", "id": "@id"}}
ENTITY = {
    "@context": NGSI_LD_CORE_CONTEXT_URL,
    "id": "urn:ngsi-ld:Thing:1",
    "type": "Thing",
    "temperature": {"type": "Property", "value": 21.5, "unitCode": "CEL"},
}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every socket connection fail, so any network use fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def counting_transport(
    body: bytes = json.dumps(REMOTE_CONTEXT).encode(), status: int = 200
) -> tuple[httpx.MockTransport, list[str]]:
    requests: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        return httpx.Response(status, content=body, headers={"content-type": "application/ld+json"})

    return httpx.MockTransport(handler), requests


# -- local contexts ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [NGSI_LD_CORE_CONTEXT_URL, NGSI_LD_CORE_CONTEXT_LATEST_URL])
def test_core_context_is_served_from_the_package_marked_static(url: str) -> None:
    remote = DocumentLoader(allow_remote=False)(url, {})
    shipped = json.loads((CONTEXTS_DIR / "ngsi-ld-core-context-v1.8.jsonld").read_text())
    assert remote == {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": shipped,
        "tag": "static",
    }


def test_every_ppi_context_is_served_at_its_context_url() -> None:
    loader = DocumentLoader(allow_remote=False)
    ppis = list(catalogue())
    assert ppis
    for ppi in ppis:
        assert loader(ppi.context_url, {})["document"] == ppi.context


def test_catalogue_contexts_can_be_left_out() -> None:
    ppi = next(iter(catalogue()))
    with pytest.raises(ContextNotAvailable):
        DocumentLoader(catalogue=False, allow_remote=False)(ppi.context_url, {})


def test_preload_folder_from_argument_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "thing.jsonld").write_text(json.dumps(REMOTE_CONTEXT))
    (tmp_path / "contexts.json").write_text(json.dumps({REMOTE_URL: "thing.jsonld"}))
    assert DocumentLoader(preload_dir=tmp_path, allow_remote=False)(REMOTE_URL, {})["document"] == REMOTE_CONTEXT
    monkeypatch.setenv("OUP_JSONLD_PRELOAD_DIR", str(tmp_path))
    assert DocumentLoader(allow_remote=False)(REMOTE_URL, {})["document"] == REMOTE_CONTEXT


@pytest.mark.parametrize(
    ("mapping", "message"),
    [({REMOTE_URL: "missing.jsonld"}, "do not exist"), ([REMOTE_URL], "must be a JSON object")],
)
def test_a_broken_preload_map_is_reported(tmp_path: Path, mapping: Any, message: str) -> None:
    (tmp_path / "contexts.json").write_text(json.dumps(mapping))
    with pytest.raises(ValueError, match=message):
        DocumentLoader(preload_dir=tmp_path)


def test_returned_documents_are_private_copies() -> None:
    loader = DocumentLoader(allow_remote=False)
    loader(NGSI_LD_CORE_CONTEXT_URL, {})["document"]["@context"]["id"] = "changed"
    assert loader(NGSI_LD_CORE_CONTEXT_URL, {})["document"]["@context"]["id"] == "@id"


def test_static_context_is_loaded_once_and_its_processed_form_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class CountingLoader(DocumentLoader):
        def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
            calls.append(url)
            return super().__call__(url, options)

    loader = CountingLoader(allow_remote=False)
    first = expand(ENTITY, loader=loader, fast=False)
    definitions: list[str] = []
    original = jsonld.JsonLdProcessor._create_term_definition

    def counting(self: Any, active_ctx: Any, local_ctx: Any, term: str, *args: Any, **kwargs: Any) -> Any:
        definitions.append(term)
        return original(self, active_ctx, local_ctx, term, *args, **kwargs)

    monkeypatch.setattr(jsonld.JsonLdProcessor, "_create_term_definition", counting)
    for _ in range(3):
        assert expand(ENTITY, loader=loader, fast=False) == first
        compact(ENTITY, NGSI_LD_CORE_CONTEXT_URL, loader=loader, fast=False)
    assert calls == [NGSI_LD_CORE_CONTEXT_URL]
    assert definitions == []  # no term definition was created again: the processed context was reused


# -- offline --------------------------------------------------------------------------------


def test_the_offline_fixture_blocks_the_network(offline: None) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:9/")


def test_local_contexts_work_offline(offline: None) -> None:
    loader = DocumentLoader(preload_dir=SDM_DIR)  # remote allowed, but never needed
    entity_context = catalogue().get("ngsi-ld-entity", "1.0.0").context_url
    for context in (NGSI_LD_CORE_CONTEXT_URL, entity_context):
        document = {**ENTITY, "@context": context}
        assert expand(document, loader=loader)[0]["@id"] == "urn:ngsi-ld:Thing:1"
        assert compact(document, context, loader=loader)["temperature"]["value"] == 21.5
        assert len(to_rdf(document, loader=loader)) > 0
        assert unmapped_terms(document, loader=loader) == []
    building = json.loads(SDM_BUILDING.read_text())
    assert compact(building, building["@context"], loader=loader)["id"] == building["id"]
    assert loader.fetch_count == 0


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_unknown_remote_context_with_remote_disabled_is_not_available(
    how: str, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "environment":
        monkeypatch.setenv("OUP_JSONLD_REMOTE", "off")
        loader = DocumentLoader()
    else:
        loader = DocumentLoader(allow_remote=False)
    document = {**ENTITY, "@context": [NGSI_LD_CORE_CONTEXT_URL, REMOTE_URL]}
    for operation in (
        lambda: expand(document, loader=loader),
        lambda: expand(document, loader=loader, fast=False),
        lambda: compact(document, NGSI_LD_CORE_CONTEXT_URL, loader=loader),
        lambda: compact(ENTITY, REMOTE_URL, loader=loader),
        lambda: to_rdf(document, loader=loader),
        lambda: unmapped_terms(document, loader=loader),
    ):
        with pytest.raises(ContextNotAvailable, match="remote contexts are disabled") as caught:
            operation()
        assert caught.value.url == REMOTE_URL


def test_unreachable_remote_context_is_not_available(offline: None) -> None:
    with pytest.raises(ContextNotAvailable, match=REMOTE_URL):
        expand({**ENTITY, "@context": REMOTE_URL}, loader=DocumentLoader())


def test_only_http_urls_are_fetched() -> None:
    transport, requests = counting_transport()
    loader = DocumentLoader(transport=transport)
    for url in ("file:///etc/passwd", "ftp://example.org/c.jsonld", "urn:example:context"):
        with pytest.raises(ContextNotAvailable, match="only http"):
            loader(url, {})
    assert requests == []


# -- remote contexts --------------------------------------------------------------------------


def test_remote_context_is_fetched_once_and_cached() -> None:
    transport, requests = counting_transport()
    loader = DocumentLoader(transport=transport)
    document = {
        "@context": [NGSI_LD_CORE_CONTEXT_URL, REMOTE_URL],
        "id": "urn:a",
        "thing": {"type": "Property", "value": 1},
    }
    for fast in (True, False, True):
        assert "https://example.org/thing" in expand(document, loader=loader, fast=fast)[0]
    assert loader(REMOTE_URL, {})["document"] == REMOTE_CONTEXT
    assert loader(REMOTE_URL, {})["tag"] == "static"
    assert requests == [REMOTE_URL]


def test_remote_context_is_kept_in_the_disk_cache(tmp_path: Path) -> None:
    transport, requests = counting_transport()
    DocumentLoader(transport=transport, cache_dir=tmp_path)(REMOTE_URL, {})
    assert DocumentLoader(transport=transport, cache_dir=tmp_path)(REMOTE_URL, {})["document"] == REMOTE_CONTEXT
    assert requests == [REMOTE_URL]


def test_declared_oversize_context_is_refused() -> None:
    transport, _ = counting_transport(body=b"{" + b" " * 2048 + b"}")
    with pytest.raises(ContextNotAvailable, match="larger than 1024 bytes"):
        DocumentLoader(transport=transport, max_bytes=1024)(REMOTE_URL, {})


def test_streamed_oversize_context_is_refused() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"{"
        for _ in range(100):
            yield b" " * 100
        yield b"}"

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=chunks()))
    with pytest.raises(ContextNotAvailable, match="larger than 1024 bytes"):
        DocumentLoader(transport=transport, max_bytes=1024)(REMOTE_URL, {})


def test_slow_context_hits_the_total_timeout() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            time.sleep(0.05)
            yield b" "

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=chunks()))
    started = time.monotonic()
    with pytest.raises(ContextNotAvailable, match="longer than 0.1 s"):
        DocumentLoader(transport=transport, timeout=0.1)(REMOTE_URL, {})
    assert time.monotonic() - started < 0.4


def test_transport_timeout_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ContextNotAvailable, match="longer than 3.0 s"):
        DocumentLoader(transport=httpx.MockTransport(handler))(REMOTE_URL, {})


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [(b"{}", 404, "HTTP 404"), (b"<html></html>", 200, "not JSON"), (b"[1]", 200, "not a JSON-LD context")],
)
def test_bad_responses_are_not_available(body: bytes, status: int, message: str) -> None:
    transport, _ = counting_transport(body=body, status=status)
    with pytest.raises(ContextNotAvailable, match=message):
        DocumentLoader(transport=transport)(REMOTE_URL, {})


def test_a_failed_fetch_is_remembered_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, requests = counting_transport(status=500)
    loader = DocumentLoader(transport=transport, failure_ttl=30)
    for _ in range(3):
        with pytest.raises(ContextNotAvailable, match="HTTP 500"):
            loader(REMOTE_URL, {})
    assert requests == [REMOTE_URL]
    later = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: later)
    with pytest.raises(ContextNotAvailable, match="HTTP 500"):
        loader(REMOTE_URL, {})
    assert requests == [REMOTE_URL, REMOTE_URL]
