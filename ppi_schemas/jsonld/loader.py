"""A pyld document loader that serves JSON-LD contexts from local files (JSON-LD 1.1 API, §9.4).

Contracts must not depend on the network at request time: the NGSI-LD core context, every PPI's
own context and any preloaded context are read from disk and returned tagged ``static``, which
makes pyld keep the *processed* context in the loader's resolved-context cache instead of
re-processing it on every call. Unknown remote contexts are fetched once (bounded in time and
size), cached, and can be switched off entirely; a context that cannot be had raises
:class:`ContextNotAvailable`, NGSI-LD's ``LdContextNotAvailable``.
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from pyld.context_resolver import ContextResolver

NGSI_LD_CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
NGSI_LD_CORE_CONTEXT_LATEST_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
CONTEXTS_DIR = Path(__file__).resolve().parent / "contexts"
PRELOAD_MAP_NAME = "contexts.json"

ENV_PRELOAD_DIR = "OUP_JSONLD_PRELOAD_DIR"
ENV_REMOTE = "OUP_JSONLD_REMOTE"
ENV_CACHE_DIR = "OUP_JSONLD_CACHE_DIR"

_ACCEPT = "application/ld+json, application/json;q=0.9"
_OFF = {"off", "0", "false", "no"}
_MAX_REDIRECTS = 5

RemoteDocument = dict[str, Any]


class ContextNotAvailable(LookupError):
    """A JSON-LD context could not be resolved (NGSI-LD ``LdContextNotAvailable``).

    ``url`` names the context; the message says why (remote disabled, timeout, too large, ...).
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"JSON-LD context {url} is not available: {reason}")
        self.url = url
        self.reason = reason


class BoundedCache:
    """Thread-safe LRU map with ``get`` and ``[]=``, the interface pyld's ``ContextResolver`` uses.

    pyld's module-level cache is shared by every loader in the process; a cache per loader keeps
    two loaders that map one URL to different files from seeing each other's contexts.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


class DocumentLoader:
    """Resolve context URLs to documents: local files first, then (optionally) the network once.

    Call it as pyld does, ``loader(url, options)``, or pass :meth:`pyld_options` to pyld so that
    its processed contexts are cached per loader.

    * ``preload_dir`` (default ``$OUP_JSONLD_PRELOAD_DIR``): a folder holding ``contexts.json``,
      an object mapping context URLs to file names relative to that folder.
    * ``catalogue`` (default ``True``): serve every shipped PPI's ``context.jsonld`` at its
      ``contextUrl``.
    * ``allow_remote`` (default: on unless ``$OUP_JSONLD_REMOTE=off``): fetch unknown http(s)
      contexts, at most once each, within ``timeout`` seconds and ``max_bytes`` bytes.
    * ``cache_dir`` (default ``$OUP_JSONLD_CACHE_DIR``): also keep fetched contexts on disk, so
      they survive restarts.
    * ``failure_ttl``: how long a failed fetch is remembered, so an unreachable context costs one
      timeout per ``failure_ttl`` seconds rather than one per request.
    * ``transport``: the httpx transport used for fetching (e.g. a proxy-aware one).

    ``fetch_count`` counts the fetches actually sent over the network.
    """

    def __init__(
        self,
        *,
        preload_dir: str | os.PathLike[str] | None = None,
        catalogue: bool = True,
        allow_remote: bool | None = None,
        timeout: float = 3.0,
        max_bytes: int = 1 << 20,
        cache_dir: str | os.PathLike[str] | None = None,
        failure_ttl: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if allow_remote is None:
            allow_remote = os.environ.get(ENV_REMOTE, "on").strip().lower() not in _OFF
        preload_dir = preload_dir if preload_dir is not None else os.environ.get(ENV_PRELOAD_DIR) or None
        cache_dir = cache_dir if cache_dir is not None else os.environ.get(ENV_CACHE_DIR) or None
        self.allow_remote = allow_remote
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.failure_ttl = failure_ttl
        self._failures: dict[str, tuple[float, ContextNotAvailable]] = {}
        self._transport = transport
        self._with_catalogue = catalogue
        self._files: dict[str, Path] = {
            NGSI_LD_CORE_CONTEXT_URL: CONTEXTS_DIR / "ngsi-ld-core-context-v1.8.jsonld",
            NGSI_LD_CORE_CONTEXT_LATEST_URL: CONTEXTS_DIR / "ngsi-ld-core-context-v1.8.jsonld",
        }
        if preload_dir:
            self._files.update(read_preload_map(Path(preload_dir)))
        self._documents: dict[str, Any] = {}
        self._catalogue_documents: Mapping[str, Any] | None = None
        self._lock = threading.Lock()
        self._fetch_locks: dict[str, threading.Lock] = {}
        self.fetch_count = 0
        self.resolved_contexts = BoundedCache(maxsize=256)

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> RemoteDocument:
        document = self._local_document(url)
        if document is None:
            document = self._remote_document(url)
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": copy.deepcopy(document),
            "tag": "static",
        }

    def pyld_options(self, **options: Any) -> dict[str, Any]:
        """Options for one pyld call: this loader, and a resolver sharing its context cache."""
        return {
            "documentLoader": self,
            "contextResolver": ContextResolver(self.resolved_contexts, self),
            "processingMode": "json-ld-1.1",
            **options,
        }

    def _local_document(self, url: str) -> Any | None:
        if url in self._documents:
            return self._documents[url]
        path = self._files.get(url)
        if path is not None:
            document = _read_json(path, url)
        else:
            document = self._catalogue().get(url)
            if document is None:
                return None
        self._documents[url] = document
        return document

    def _catalogue(self) -> Mapping[str, Any]:
        if self._catalogue_documents is None:
            documents: dict[str, Any] = {}
            if self._with_catalogue:
                from ppi_schemas import catalogue  # deferred: ppi_schemas may import this package

                documents = {ppi.context_url: ppi.context for ppi in catalogue()}
            self._catalogue_documents = documents
        return self._catalogue_documents

    def _remote_document(self, url: str) -> Any:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ContextNotAvailable(url, "only http(s) context URLs can be fetched")
        if not self.allow_remote:
            raise ContextNotAvailable(url, f"not available locally and remote contexts are disabled ({ENV_REMOTE}=off)")
        with self._lock:
            fetch_lock = self._fetch_locks.setdefault(url, threading.Lock())
        with fetch_lock:  # one fetch per URL even under concurrent first use
            if url in self._documents:
                return self._documents[url]
            failed_at, failure = self._failures.get(url, (None, None))
            if failure is not None and time.monotonic() - failed_at < self.failure_ttl:
                retry = f"failed recently; retried after {self.failure_ttl:g} s"
                raise ContextNotAvailable(url, f"{failure.reason} ({retry})")
            try:
                body = self._read_disk_cache(url)
                if body is None:
                    body = self._fetch(url)
                    self._write_disk_cache(url, body)
                document = _parse_context(body, url)
            except ContextNotAvailable as exc:
                self._failures[url] = (time.monotonic(), exc)
                raise
            self._failures.pop(url, None)
            self._documents[url] = document
            return document

    def _fetch(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        self.fetch_count += 1
        try:
            with httpx.Client(
                timeout=self.timeout,
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
                transport=self._transport,
            ) as client:
                with client.stream("GET", url, headers={"Accept": _ACCEPT}) as response:
                    if response.status_code != 200:
                        raise ContextNotAvailable(url, f"HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise ContextNotAvailable(url, f"larger than {self.max_bytes} bytes")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise ContextNotAvailable(url, f"larger than {self.max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise ContextNotAvailable(url, f"took longer than {self.timeout} s")
                    return bytes(body)
        except httpx.TimeoutException as exc:
            raise ContextNotAvailable(url, f"took longer than {self.timeout} s") from exc
        except httpx.HTTPError as exc:
            raise ContextNotAvailable(url, f"{type(exc).__name__}: {exc}") from exc

    def _disk_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest() + ".jsonld")

    def _read_disk_cache(self, url: str) -> bytes | None:
        path = self._disk_path(url)
        if path is None or not path.is_file():
            return None
        return path.read_bytes()

    def _write_disk_cache(self, url: str, body: bytes) -> None:
        path = self._disk_path(url)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(body)
        partial.replace(path)


def read_preload_map(folder: Path) -> dict[str, Path]:
    """Read ``<folder>/contexts.json`` (context URL -> file name relative to ``folder``)."""
    map_path = folder / PRELOAD_MAP_NAME
    mapping = _read_json(map_path, str(map_path))
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValueError(f"{map_path}: must be a JSON object mapping context URLs to file names")
    files = {url: folder / name for url, name in mapping.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise ValueError(f"{map_path}: mapped files do not exist: {', '.join(missing)}")
    return files


def _read_json(path: Path, url: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ContextNotAvailable(url, f"local file {path.name} is unreadable: {exc}") from exc


def _parse_context(body: bytes, url: str) -> Any:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ContextNotAvailable(url, f"response is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ContextNotAvailable(url, "response is not a JSON-LD context document (a JSON object)")
    return document

