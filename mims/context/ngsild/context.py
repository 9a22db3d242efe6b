"""JSON-LD @context resolution of NGSI-LD requests (ETSI GS CIM 009 V1.8.1, clause 6.3.5).

Where the @context of a request comes from depends on its media type:

* ``application/json`` (and requests without a body): the Link header with
  ``rel="http://www.w3.org/ns/json-ld#context"``; a body carrying ``@context`` is an error;
* ``application/ld+json``: the body's ``@context``, which is mandatory; a context Link header
  is then an error.

Without either, the NGSI-LD core context applies; otherwise the core context is appended last,
so its terms can never be redefined (clause 4.5.1). Contexts are processed by pyld with the
platform's local :class:`~ppi_schemas.jsonld.DocumentLoader` (preloaded files first, remote
fetches once and bounded) and cached per distinct context list, so terms are expanded and
compacted by pyld's own IRI Expansion and IRI Compaction (JSON-LD 1.1 API, 5.2 and 6.3), each
result memoised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from pyld.jsonld import KEYWORDS, JsonLdError, JsonLdProcessor, _is_absolute_iri
from starlette.concurrency import run_in_threadpool

from mims.context.ngsild.errors import BadRequestData, LdContextNotAvailable
from mims.context.ngsild.jsonld_contexts import ContextRegistry, StoredContextLoader
from mims.context.ngsild.mediatypes import JSON_LD
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL, ContextNotAvailable, DocumentLoader
from ppi_schemas.jsonld.loader import BoundedCache

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"

_MEMO_LIMIT = 8192
_KEYWORDS = frozenset(KEYWORDS)
# One link-value of RFC 8288: <target> followed by ;-separated parameters.
_LINK_VALUE = re.compile(r'\s*<([^>]*)>\s*((?:;\s*[^;,=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,\s]*))?\s*)*)(?:,|$)')
_LINK_PARAM = re.compile(r';\s*([^;,=\s]+)\s*(?:=\s*("[^"]*"|[^;,\s]*))?')

LocalContext = str | dict[str, Any]


def context_link(url: str) -> str:
    """The Link header value pointing a client at the @context of a JSON response (clause 6.3.5)."""
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="{JSON_LD}"'


def link_header_context(link: str | None) -> str | None:
    """The @context URL of a request's Link header, if it has one.

    Other links are ignored; more than one context link, or a malformed header, is refused.
    """
    if not link or not link.strip():
        return None
    found: list[str] = []
    position = 0
    text = link.strip()
    while position < len(text):
        match = _LINK_VALUE.match(text, position)
        if match is None or match.end() == position:
            raise BadRequestData(f"The Link header is not a valid RFC 8288 link list: {link!r}.")
        position = match.end()
        params = {name.lower(): (value or "").strip('"') for name, value in _LINK_PARAM.findall(match.group(2))}
        if JSONLD_CONTEXT_REL in params.get("rel", "").split():
            found.append(match.group(1).strip())
    if len(found) > 1:
        raise BadRequestData("The Link header names more than one JSON-LD @context; send exactly one.")
    if found and not found[0]:
        raise BadRequestData("The JSON-LD @context link of the Link header is empty.")
    return found[0] if found else None


def request_contexts(kind: str | None, link: str | None, body: Any = None) -> tuple[LocalContext, ...]:
    """The user @context entries of a request by the rules of clause 6.3.5 (core context excluded).

    ``kind`` is the request body's media type (``None`` for requests without a body).
    """
    linked = link_header_context(link)
    has_inline = isinstance(body, dict) and "@context" in body
    if kind == JSON_LD:
        if linked is not None:
            raise BadRequestData("A JSON-LD @context Link header is not allowed with Content-Type application/ld+json; put the @context in the body.")
        if not has_inline:
            raise BadRequestData("A body sent as application/ld+json must carry its @context.")
        return _inline_contexts(body["@context"])
    if has_inline:
        raise BadRequestData("A body sent as application/json must not carry @context; send it in a Link header or use application/ld+json.")
    return (linked,) if linked is not None else ()


def _inline_contexts(value: Any) -> tuple[LocalContext, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, (str, dict)) for item in items):
        raise BadRequestData("@context must be a URL, a context object, or a non-empty array of those.")
    return tuple(item for item in items if item != NGSI_LD_CORE_CONTEXT_URL)


class ActiveContext:
    """The @context in effect for one request: term expansion and IRI compaction.

    ``user`` holds the request's own entries; the core context is appended after them.
    """

    def __init__(
        self,
        user: tuple[LocalContext, ...],
        active: dict[str, Any],
        processor: JsonLdProcessor,
        implicit_url: str | None = None,
        usage_ids: tuple[str, ...] = (),
    ) -> None:
        self.user = user
        self.implicit_url = implicit_url
        self.usage_ids = usage_ids
        self._active = active
        self._processor = processor
        self._expanded: dict[str, str | None] = {}
        self._compacted: dict[str, str] = {}

    @property
    def document_context(self) -> Any:
        """The ``@context`` member of an ``application/ld+json`` response."""
        if not self.user:
            return NGSI_LD_CORE_CONTEXT_URL
        return [*self.user, NGSI_LD_CORE_CONTEXT_URL]

    @property
    def link_url(self) -> str:
        """The context a Link header of an ``application/json`` response names.

        One URL names itself; any other @context is named by the ImplicitlyCreated @context the
        broker hosts for it (clause 5.13.1), when the broker has a store for it.
        """
        if len(self.user) == 1 and isinstance(self.user[0], str):
            return self.user[0]
        if self.implicit_url is not None:
            return self.implicit_url
        return NGSI_LD_CORE_CONTEXT_URL

    def expand_term(self, term: str) -> str:
        """The IRI of an attribute name, entity type or vocabulary value (vocab-relative IRI Expansion).

        Raises :class:`BadRequestData` for a term this context maps to nothing or to a keyword.
        """
        iri = self.try_expand(term)
        if iri is None:
            raise BadRequestData(f"{term!r} does not expand to an IRI with the @context in effect.")
        return iri

    def try_expand(self, term: str) -> str | None:
        """:meth:`expand_term`, returning ``None`` instead of raising."""
        if term in self._expanded:
            return self._expanded[term]
        try:
            iri = self._processor._expand_iri(self._active, term, vocab=True, base="")
        except JsonLdError:
            iri = None
        if not isinstance(iri, str) or iri in _KEYWORDS or not _is_absolute_iri(iri):
            iri = None
        if len(self._expanded) < _MEMO_LIMIT:
            self._expanded[term] = iri
        return iri

    def compact_iri(self, iri: str) -> str:
        """The shortest term or compact IRI for ``iri`` (vocab-relative IRI Compaction)."""
        hit = self._compacted.get(iri)
        if hit is None:
            hit = self._processor._compact_iri(self._active, iri, vocab=True)
            if len(self._compacted) < _MEMO_LIMIT:
                self._compacted[iri] = hit
        return hit


class ContextResolver:
    """Active contexts for context lists, processed once each and kept in a bounded cache.

    With a :class:`~mims.context.ngsild.jsonld_contexts.ContextRegistry` the broker's @context
    store takes part (clause 5.13): its loader resolves stored @contexts, every use is counted,
    @contexts that are not one URL get an ImplicitlyCreated wrapper, and the cache is dropped
    whenever a stored @context is deleted or reloaded.
    """

    def __init__(self, loader: DocumentLoader | StoredContextLoader, registry: ContextRegistry | None = None) -> None:
        self.loader = registry.loader if registry is not None else loader
        self.registry = registry
        self._processor = JsonLdProcessor()
        self._cache = BoundedCache(maxsize=256)
        self._generation = registry.generation if registry is not None else 0

    async def resolve(self, user: Sequence[LocalContext]) -> ActiveContext:
        """The :class:`ActiveContext` for ``user`` + core; processing may fetch, so it runs off the event loop."""
        registry = self.registry
        if registry is not None and registry.generation != self._generation:
            self._cache, self._generation = BoundedCache(maxsize=256), registry.generation
        key = _cache_key(user)
        active = self._cache.get(key)
        if active is None:
            contexts = tuple(user)
            processed = await run_in_threadpool(self._process, contexts)
            implicit_url, usage_ids = None, ()
            if registry is not None:
                usage_ids = registry.usage_ids(contexts)
                if contexts and not (len(contexts) == 1 and isinstance(contexts[0], str)):
                    implicit_url = await registry.implicit(contexts)
            active = ActiveContext(contexts, processed, self._processor, implicit_url, usage_ids)
            self._cache[key] = active
        if registry is not None:
            registry.record_use(active.usage_ids)
        return active

    async def check(self, contexts: Sequence[LocalContext]) -> None:
        """Raise the error :meth:`resolve` would for ``contexts``, without caching or counting anything."""
        await run_in_threadpool(self._process, tuple(contexts))

    def _process(self, user: tuple[LocalContext, ...]) -> dict[str, Any]:
        relative = [item for item in user if isinstance(item, str) and not _is_absolute_iri(item)]
        if relative:  # clause 6.3.5: a request's @context names contexts by URL
            raise BadRequestData(f"The @context entry {relative[0]!r} is not an absolute URL.")
        options = self.loader.pyld_options(base="")
        try:
            initial = self._processor._get_initial_context(options)
            active = self._processor.process_context(initial, [*user, NGSI_LD_CORE_CONTEXT_URL], options)
        except JsonLdError as error:
            cause: BaseException | None = error
            while cause is not None:
                if isinstance(cause, ContextNotAvailable):
                    raise LdContextNotAvailable(str(cause), extensions={"context": cause.url}) from None
                cause = cause.__cause__ or cause.__context__
            reason = error.args[0] if error.args else error.code
            raise BadRequestData(f"The @context is not a valid JSON-LD context: {reason} ({error.code}).") from None
        except ValueError as error:  # pyld's IRI resolution refuses some references outright
            raise BadRequestData(f"The @context is not a valid JSON-LD context: {error}.") from None
        return active


def _cache_key(user: Sequence[LocalContext]) -> Any:
    if all(isinstance(item, str) for item in user):
        return tuple(user)
    return orjson.dumps(list(user), option=orjson.OPT_SORT_KEYS)
