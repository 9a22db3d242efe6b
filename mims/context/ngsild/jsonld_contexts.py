"""The broker's local @context storage (CIM 009 V1.8.1, clause 5.13) behind @context resolution.

Clause 5.13.1 gives stored @contexts three kinds: *Hosted* (added by a client, clause 5.13.2),
*Cached* (a remote @context the broker downloaded once and keeps under its original URL) and
*ImplicitlyCreated* (an @context the broker hosts itself for a request @context that is not a
single URL, so responses and notifications can still name it in one Link header, clause 6.3.5).

:class:`StoredContextLoader` is the pyld document loader of the broker: hosted URLs resolve from
the store without any HTTP to the broker itself, other URLs from the store's cached copies, and
only then from the platform :class:`~ppi_schemas.jsonld.DocumentLoader` (local files, then one
bounded fetch), whose result is stored as Cached. pyld runs in worker threads, from which the
loader reaches the async store through ``anyio.from_thread``. :class:`ContextRegistry` counts
hits in memory and adds them to the store in batches (clause 5.13.3 ``numberOfHits``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio.from_thread
import orjson
from pyld.context_resolver import ContextResolver as PyldContextResolver
from starlette.concurrency import run_in_threadpool

from mims.context.storage.contexts import (
    CACHED,
    HOSTED,
    IMPLICITLY_CREATED,
    ContextStore,
    StoredContext,
    Usage,
)
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL, ContextNotAvailable, DocumentLoader
from ppi_schemas.jsonld.loader import NGSI_LD_CORE_CONTEXT_LATEST_URL, BoundedCache, RemoteDocument

#: Where the broker serves stored @contexts (clause 6.30), below its base URL.
CONTEXTS_PATH = "/ngsi-ld/v1/jsonldContexts"
CORE_URLS = frozenset({NGSI_LD_CORE_CONTEXT_URL, NGSI_LD_CORE_CONTEXT_LATEST_URL})
_HOSTED_PATH = re.compile(re.escape(CONTEXTS_PATH) + r"/([^/?#]+)")
_RESOLVED_CACHE_SIZE = 256


def utc_now() -> datetime:
    return datetime.now(UTC)


def hosted_id() -> str:
    """A fresh local id for a Hosted @context: unguessable, so ids never collide across brokers."""
    return uuid.uuid4().hex


def cached_id(url: str) -> str:
    """The local id of the Cached copy of ``url``: derived from the URL, so processes agree on it."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def implicit_id(contexts: Iterable[Any]) -> str:
    """The local id of the ImplicitlyCreated wrapper of ``contexts``: one row per distinct content."""
    canonical = orjson.dumps(list(contexts), option=orjson.OPT_SORT_KEYS)
    return "implicit-" + hashlib.sha256(canonical).hexdigest()[:32]


def hosted_local_id(url: str) -> str | None:
    """The local id in a URL of the form ``<base>/ngsi-ld/v1/jsonldContexts/<id>``, if it is one."""
    parts = urlsplit(url)
    match = _HOSTED_PATH.fullmatch(parts.path)
    return unquote(match.group(1)) if match and not parts.query and not parts.fragment else None


def context_document(contexts: tuple[Any, ...]) -> dict[str, Any]:
    """The JSON-LD document wrapping request @context entries: one entry bare, several as an array."""
    return {"@context": contexts[0] if len(contexts) == 1 else list(contexts)}


class StoredContextLoader:
    """pyld document loader over the @context store, falling back to the platform loader.

    ``make_base`` builds the platform :class:`DocumentLoader`; a fresh one is built when a Cached
    @context is deleted, so its next use downloads it again. ``store`` returns the store, or
    ``None`` before storage has started. ``own_base`` is the broker's public URL, if configured:
    unknown ids under it are answered at once instead of fetched from the broker itself.
    """

    def __init__(
        self,
        make_base: Callable[[], DocumentLoader],
        store: Callable[[], ContextStore | None],
        own_base: str | None = None,
    ) -> None:
        self._make_base = make_base
        self._base = make_base()
        self._store = store
        self._own_prefix = own_base.rstrip("/") + CONTEXTS_PATH + "/" if own_base else None
        self.resolved_contexts = BoundedCache(maxsize=_RESOLVED_CACHE_SIZE)

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> RemoteDocument:
        store = self._store()
        if url in CORE_URLS or store is None:
            return self._base(url, options)
        local_id = hosted_local_id(url)
        if local_id is not None:
            record = _from_loop(store.get, local_id)
            if record is not None and record.kind != CACHED:
                return _remote_document(url, record.document)
            if self._own_prefix is not None and url.startswith(self._own_prefix):
                raise ContextNotAvailable(url, "no @context with this id is stored by this broker")
        record = _from_loop(store.get, url)
        if record is not None:
            return _remote_document(url, record.document)
        loaded = self._base(url, options)
        _from_loop(store.add, cached_id(url), CACHED, loaded["document"], utc_now(), url)
        return loaded

    def pyld_options(self, **options: Any) -> dict[str, Any]:
        """Options for one pyld call: this loader and a resolver sharing its processed-context cache."""
        return {
            "documentLoader": self,
            "contextResolver": PyldContextResolver(self.resolved_contexts, self),
            "processingMode": "json-ld-1.1",
            **options,
        }

    def download(self, url: str) -> Any:
        """A fresh copy of ``url`` from the platform loader, bypassing everything kept so far."""
        return self._make_base()(url, {})["document"]

    def forget(self) -> None:
        """Drop every document and processed context held in memory (a stored @context changed)."""
        self._base = self._make_base()
        self.resolved_contexts = BoundedCache(maxsize=_RESOLVED_CACHE_SIZE)


class ContextRegistry:
    """The broker's @context storage as @context resolution and the /jsonldContexts API see it.

    ``engine`` returns the MIM's engine (``None`` until storage has started); ``public_url`` is
    the broker's configured public base URL, used for the URLs of hosted @contexts that have
    no request to derive them from (Link headers); without it those are path-absolute
    references, which RFC 8288 resolves against the request URI.
    """

    def __init__(self, make_base: Callable[[], DocumentLoader], engine: Callable[[], Any],
                 public_url: str | None = None) -> None:
        self._engine = engine
        self.public_url = public_url.rstrip("/") if public_url else None
        self.loader = StoredContextLoader(make_base, self.store, self.public_url)
        self.generation = 0
        self._hits: Counter[str] = Counter()
        self._last: dict[str, datetime] = {}

    def store(self) -> ContextStore | None:
        engine = self._engine()
        return ContextStore(engine) if engine is not None else None

    def url_for(self, local_id: str, base: str | None = None) -> str:
        """Where the broker serves the stored @context ``local_id`` (clause 6.30)."""
        root = (base or self.public_url or "").rstrip("/")
        return f"{root}{CONTEXTS_PATH}/{local_id}"

    def public_url_of(self, record: StoredContext, base: str | None = None) -> str:
        """The URL clause 5.13.3 lists: the original one of a Cached @context, else the broker's."""
        if record.kind == CACHED and record.url is not None:
            return record.url
        return self.url_for(record.local_id, base)

    def usage_ids(self, contexts: tuple[Any, ...]) -> tuple[str, ...]:
        """The local ids whose hits one use of ``contexts`` counts."""
        if len(contexts) == 1 and isinstance(contexts[0], str):
            url = contexts[0]
            hosted = hosted_local_id(url)
            return (cached_id(url),) if hosted is None else (hosted, cached_id(url))
        return (implicit_id(contexts),) if contexts else ()

    def record_use(self, local_ids: Iterable[str]) -> None:
        """Count a use in memory; :meth:`flush_usage` adds the counts to the store."""
        now = utc_now()
        for local_id in local_ids:
            self._hits[local_id] += 1
            self._last[local_id] = now

    async def flush_usage(self) -> None:
        store = self.store()
        if store is None or not self._hits:
            return
        hits, last = self._hits, self._last
        self._hits, self._last = Counter(), {}
        await store.add_usage({local_id: Usage(count, last[local_id]) for local_id, count in hits.items()})

    async def implicit(self, contexts: tuple[Any, ...]) -> str | None:
        """The URL of the ImplicitlyCreated @context wrapping ``contexts`` (stored on first use)."""
        store = self.store()
        if store is None:
            return None
        local_id = implicit_id(contexts)
        await store.add(local_id, IMPLICITLY_CREATED, context_document(contexts), utc_now())
        return self.url_for(local_id)

    async def add_hosted(self, document: dict[str, Any]) -> StoredContext:
        store = self._required_store()
        return await store.add(hosted_id(), HOSTED, document, utc_now())

    async def reload(self, record: StoredContext) -> None:
        """Download a Cached @context again and replace the stored copy (clause 5.13.5, reload).

        Raises :class:`ContextNotAvailable` when the download fails; the stored copy then stays.
        """
        assert record.url is not None
        document = await run_in_threadpool(self.loader.download, record.url)
        await self._required_store().replace_document(record.local_id, document, utc_now())
        self.changed()

    async def delete(self, record: StoredContext) -> None:
        await self._required_store().delete(record.local_id)
        self.changed()

    def changed(self) -> None:
        """Stored @contexts changed: processed contexts held in memory are no longer trusted."""
        self.loader.forget()
        self.generation += 1

    def _required_store(self) -> ContextStore:
        store = self.store()
        if store is None:
            raise RuntimeError("the @context store is used before storage has started")
        return store


def _remote_document(url: str, document: Any) -> RemoteDocument:
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": document, "tag": "static"}


def _from_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Run an async store call on the event loop from the worker thread pyld runs in."""
    return anyio.from_thread.run(function, *args)
