"""The streaming reverse proxy: every request the route table knows goes through :func:`handle`.

Upstream requests go through one ``aiohttp.ClientSession`` per app with a large keep-alive pool.
aiohttp rather than httpx on this one hop because it is the gateway's hot path: measured on the
same upstream, one GET costs 0.40 ms through aiohttp and 0.74-0.83 ms through a tuned httpx client,
and httpx was 60 % of the gateway's CPU per proxied request. The session keeps no cookies (an
upstream's ``Set-Cookie`` is for the client, never for other callers). Bodies stream both ways unless
the gateway must read one (PPI validation, entity type). Hop-by-hop headers (RFC 9110 7.6.1)
are dropped, ``Forwarded``/``X-Forwarded-*`` added, ``Location`` rewritten to the gateway's
address. On routes the gateway checks, the caller's ``Authorization`` is not passed on by
default: MIMs behind the gateway get the verified identity in ``X-OUP-Client-Id``,
``X-OUP-Subject``, ``X-OUP-Issuer`` and ``X-OUP-Scope`` (headers of those names from the client are removed), so
a token never travels further than needed. Public routes pass it on untouched: there the MIM
itself authenticates the caller (client authentication at the identity MIM's ``/token``, a
bearer token at its ``/userinfo`` or admin API). The upstream's ``Date`` and ``Server`` give
way to the gateway's own. Upstream failures are answered at once: unreachable 502, too slow 504, pool exhausted 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.audit import AuditRecord
from gateway.grants import CachedGrants, GrantSource, grant_source
from gateway.metering import PARSE_MAX_BYTES, entities_returned, meterable
from gateway.metrics import Metrics
from gateway.pep import Admission, admit, entity_types, refusal_reason, take_use
from gateway.ppi import is_json_media_type, negotiate, parse_json, profiles, validate_body
from gateway.routes import Route, RouteTable
from gateway.settings import GatewaySettings
from mims.kit.logging import request_id_var
from mims.kit.problems import ProblemError
from mims.kit.ratelimit import RateLimit, too_many_requests

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
})
_NOT_FORWARDED = HOP_BY_HOP | {"host", "x-oup-client-id", "x-oup-subject", "x-oup-issuer", "x-oup-scope"}
#: Response headers the gateway's own server writes; the upstream's copies would be duplicates.
_SET_BY_GATEWAY = frozenset({"x-request-id", "date", "server"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Characters passed on unencoded in an upstream path or query (RFC 3986 pchar, '/', '?' and '%').
_URL_SAFE = "/?%:@!$&'()*+,;="
#: Answers up to this size (by Content-Length) are read whole before sending; larger ones stream.
BUFFERED_MAX_BYTES = 64 * 1024


@dataclass(slots=True)
class Gateway:
    """What the proxy needs, built once per app: routes, the upstream client, policy and counters."""

    settings: GatewaySettings
    routes: RouteTable
    upstreams: dict[str, str]
    client: httpx.AsyncClient  # for the gateway's own calls (discovery)
    grants: GrantSource
    limiter: RateLimit | None
    metrics: Metrics
    session: aiohttp.ClientSession | None = None

    def upstream_session(self) -> aiohttp.ClientSession:
        """The proxy's session, opened on first use (it must be made inside the running loop)."""
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.max_connections, keepalive_timeout=60),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.settings.upstream_timeout, sock_connect=self.settings.connect_timeout,
                    sock_read=self.settings.upstream_timeout,
                ),
            )
        return self.session

    async def close(self) -> None:
        await self.client.aclose()
        if self.session is not None:
            await self.session.close()

    @classmethod
    def build(cls, settings: GatewaySettings, routes: RouteTable, grants: GrantSource | None = None) -> Gateway:
        """The gateway; ``grants`` None: the marketplace's when ``marketplace_url`` is set, else none."""
        # httpx logs every request at INFO: a second access log line per proxied request.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.upstream_timeout, connect=settings.connect_timeout),
            follow_redirects=False, cookies=cookieless(),
        )
        return cls(
            settings=settings,
            routes=routes,
            upstreams=settings.upstreams(),
            client=client,
            grants=CachedGrants(grants or grant_source(settings.marketplace_url, client), ttl=settings.grants_cache_ttl),
            limiter=RateLimit(settings.rate_limit) if settings.rate_limit else None,
            metrics=Metrics(),
        )


async def handle(request: Request) -> Response:
    """Route, admit, validate and forward one request; audit it if it reaches data."""
    gateway: Gateway = request.app.state.gateway
    route = gateway.routes.match(request.method, request.url.path)
    if route is None:
        raise ProblemError(404, "Not Found", f"no route for {request.method} {request.url.path}")
    base = gateway.upstreams.get(route.upstream)
    if base is None:
        raise ProblemError(
            404, "Not Found",
            f"{route.upstream} is not part of this platform (route {route.name}; set its URL to enable it)",
        )
    exchange = _Exchange(gateway, request, route, base)
    try:
        return await exchange.run()
    except ProblemError as problem:
        exchange.finish(problem.status, 0, reason=exchange.reason or _reason(problem))
        raise


def _reason(problem: ProblemError) -> str:
    return problem.title.lower().replace(" ", "_")


class _Exchange:
    """One request through the gateway, with what it learns on the way for the audit record."""

    def __init__(self, gateway: Gateway, request: Request, route: Route, base: str) -> None:
        self.gateway = gateway
        self.request = request
        self.route = route
        self.base = base
        self.at = datetime.now(UTC)
        self.started = time.perf_counter()
        self.admission: Admission | None = None
        self.entity_types = entity_types(request.query_params.get("type", ""))
        self.bytes_in = 0
        self.reason: str | None = None
        self.allowed = False
        self.answer: bytearray | None = None  # the answer's body, kept when its entities are metered

    async def run(self) -> Response:
        request, route = self.request, self.route
        body: bytes | None = None
        content_type = request.headers.get("content-type")
        if request.method in _BODY_METHODS and (route.ppi or route.types) and is_json_media_type(content_type):
            body = await request.body()
            self.bytes_in = len(body)
        payload: Any = None
        malformed: ProblemError | None = None
        if body:
            try:
                payload = parse_json(body)
            except ProblemError as problem:  # told only to a caller who may use the route
                malformed = problem
        if isinstance(payload, dict) and isinstance(payload.get("type"), str):
            self.entity_types = [payload["type"]]
        if not route.public:
            try:
                self.admission = await admit(request, route, self.entity_types, self.gateway.grants,
                                             enforces_grants=True)
            except ProblemError as problem:
                self.reason = refusal_reason(problem)
                raise
            limiter = self.gateway.limiter
            if limiter is not None:
                token = self.admission.token  # per client and person: the people of one app (the portal) apart
                retry_after = limiter.hit("gateway", token.issuer, token.client_id, token.sub)
                if retry_after is not None:
                    self.reason = "rate_limited"
                    raise too_many_requests(retry_after, f"client {self.admission.token.client_id} is over "
                                                         f"its limit of {self.gateway.settings.rate_limit}")
        if malformed is not None:
            self.reason = "malformed_body"
            raise malformed
        asked = profiles(request.headers.get("accept"))
        if asked:
            negotiate("Accept", asked, await request.app.state.discovery.produced(route.upstream))
        if route.ppi:
            negotiate("Content-Type", profiles(content_type), (route.ppi,))
            if body is not None:
                try:
                    validate_body(payload, route.ppi)
                except ProblemError:
                    self.reason = "ppi_validation"
                    raise
        if self.admission is not None:
            try:
                await take_use(self.gateway.grants, self.admission)
            except ProblemError as problem:
                self.reason = refusal_reason(problem)
                raise
            if meterable(self.admission.grant) and getattr(request.app.state, "meter", None) is not None:
                self.answer = bytearray()
        self.allowed = True
        return await self.forward(body)

    async def forward(self, body: bytes | None) -> Response:
        request, gateway = self.request, self.gateway
        content: Any = None
        if body is not None:
            content = body
        elif request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
            content = self._counted(request.stream())
        url = self.base + self._upstream_target()
        headers = self._request_headers()
        settings = gateway.settings
        try:
            upstream = await gateway.upstream_session().request(
                request.method, url, headers=headers, data=content, allow_redirects=False
            )
        except aiohttp.ConnectionTimeoutError:
            raise self._upstream_failure(503, "busy", "gave no connection in time (pool full or "
                                                       "connection not accepted)") from None
        except TimeoutError:
            raise self._upstream_failure(504, "timeout", f"did not answer within "
                                                          f"{settings.upstream_timeout:g} s") from None
        except aiohttp.ClientError as error:
            raise self._upstream_failure(502, "unreachable", f"cannot be reached ({type(error).__name__})") from None
        length = upstream.headers.get("content-length", "")
        if length.isdigit() and int(length) <= BUFFERED_MAX_BYTES:
            return await self._buffered(upstream)
        # The background release covers a client gone before the body iterator started.
        response = StreamingResponse(
            self._relayed(upstream), status_code=upstream.status, background=BackgroundTask(_released, upstream)
        )
        response.raw_headers = self._response_headers(upstream)
        return response

    async def _buffered(self, upstream: aiohttp.ClientResponse) -> Response:
        """A small answer read whole: cheaper than streaming it (no task watching for disconnects)."""
        try:
            body = await upstream.read()
        except TimeoutError:
            raise self._upstream_failure(504, "timeout", "did not finish its answer in time") from None
        except aiohttp.ClientError as error:
            raise self._upstream_failure(502, "unreachable", f"broke off its answer ({type(error).__name__})") from None
        finally:
            upstream.release()
        response = Response(body, status_code=upstream.status)
        response.raw_headers = self._response_headers(upstream)
        if self.answer is not None:
            self.answer += body
        self.finish(upstream.status, len(body), content_type=upstream.headers.get("content-type"))
        return response

    def _upstream_target(self) -> str:
        """Path and query for the upstream, encoded as the client sent them: an entity id's ``%2F``
        stays encoded, and bytes a URL may not hold raw are percent-encoded."""
        scope = self.request.scope
        raw_path = scope.get("raw_path") or self.request.url.path.encode()
        matched = (self.route.prefix or self.route.path or "").encode()
        if raw_path.startswith(matched):
            path = self.route.upstream_path(_percent_encoded(raw_path).decode("ascii"))
        else:  # the client percent-encoded part of the route's own prefix
            path = quote(self.route.upstream_path(self.request.url.path), safe=_URL_SAFE)
        query = scope.get("query_string") or b""
        if self.admission is not None and self.admission.query is not None:
            query = self.admission.query  # narrowed by the grant
        return path + ("?" + _percent_encoded(query).decode("ascii") if query else "")

    def _upstream_failure(self, status: int, kind: str, what: str) -> ProblemError:
        self.gateway.metrics.upstream_errors.labels(self.route.upstream, kind).inc()
        self.reason = f"upstream_{kind}"
        title = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        return ProblemError(status, title, f"upstream {self.route.upstream} {what} (route {self.route.name})")

    async def _counted(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in stream:
            self.bytes_in += len(chunk)
            yield chunk

    async def _relayed(self, upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        sent = 0
        try:
            async for chunk in upstream.content.iter_any():
                sent += len(chunk)
                if self.answer is not None and len(self.answer) <= PARSE_MAX_BYTES:
                    self.answer += chunk
                yield chunk
        finally:
            upstream.release()
            self.finish(upstream.status, sent, content_type=upstream.headers.get("content-type"))

    def finish(self, status: int, bytes_out: int, reason: str | None = None, content_type: str | None = None) -> None:
        """Count the request and, for data routes, append its audit record (and meter a grant's use)."""
        route = self.route
        self.gateway.metrics.observe(route.name, route.upstream, self.request.method, status,
                                     time.perf_counter() - self.started)
        if route.public:
            return
        # A token that verified but lacked a scope still says who was refused.
        token = self.admission.token if self.admission else getattr(self.request.state, "token", None)
        self.request.app.state.audit.append(AuditRecord.of(
            self.request, token, self.started,
            at=self.at,
            route=route.name,
            entity_type=",".join(self.entity_types) or None,
            dataset=self.admission.dataset if self.admission else None,
            decision="allow" if self.allowed else "deny",
            reason=reason,
            status=status,
            bytes_in=self.bytes_in,
            bytes_out=bytes_out,
        ))
        meter = getattr(self.request.app.state, "meter", None)
        if self.answer is not None and meter is not None and self.admission and self.admission.grant:
            token = self.admission.token
            meter.add(self.admission.grant, token.client_id, token.sub, status=status, bytes_sent=bytes_out,
                      entities=entities_returned(self.route.upstream_path(self.request.url.path), status,
                                                 content_type, self.answer),
                      start=self.at, end=datetime.now(UTC))

    def _request_headers(self) -> list[tuple[str, str]]:
        request = self.request
        dropped = _NOT_FORWARDED | _connection_tokens(request.headers.get("connection"))
        if not (self.route.public or self.gateway.settings.forward_authorization):
            dropped = dropped | {"authorization"}
        headers = [(k, v) for k, v in request.headers.items() if k not in dropped]
        client = request.client.host if request.client else "unknown"
        host = request.headers.get("host", "")
        proto = request.url.scheme
        prior_for = request.headers.get("x-forwarded-for")
        headers = [(k, v) for k, v in headers if k not in ("x-forwarded-for", "forwarded")]
        headers.append(("x-forwarded-for", f"{prior_for}, {client}" if prior_for else client))
        node = f'for="{client}";host="{host}";proto={proto}'
        prior = request.headers.get("forwarded")
        headers.append(("forwarded", f"{prior}, {node}" if prior else node))
        if "x-forwarded-host" not in request.headers:
            headers.append(("x-forwarded-host", host))
        if "x-forwarded-proto" not in request.headers:
            headers.append(("x-forwarded-proto", proto))
        request_id = request_id_var.get(None)
        if request_id:
            headers = [(k, v) for k, v in headers if k != "x-request-id"]
            headers.append(("x-request-id", request_id))
        passed = [(k, _octets_kept(k, v.strip(" \t"))) for k, v in headers]
        if self.admission is not None:  # the verified identity, sent in UTF-8
            token = self.admission.token
            passed += [("x-oup-client-id", token.client_id), ("x-oup-subject", token.sub),
                       ("x-oup-issuer", token.issuer), ("x-oup-scope", " ".join(sorted(token.scopes)))]
        return passed

    def _response_headers(self, upstream: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
        dropped = HOP_BY_HOP | _connection_tokens(upstream.headers.get("connection")) | _SET_BY_GATEWAY
        raw = []
        for key, value in upstream.raw_headers:
            name = key.lower()
            if name.decode("latin-1") in dropped:
                continue
            if name == b"location":
                value = self._location(value.decode("latin-1")).encode("latin-1")
            raw.append((name, value))
        return raw

    def _location(self, value: str) -> str:
        """An upstream ``Location`` as the client must follow it: through the gateway."""
        target = httpx.URL(value)
        if target.is_absolute_url and not value.startswith(self.base + "/") and value != self.base:
            return value  # somewhere else entirely (another issuer, a client's redirect_uri)
        path = target.raw_path.decode("ascii").partition("?")[0]  # still percent-encoded, like an id's %2F
        gateway_path = self.route.gateway_path(path)
        if gateway_path is None:
            for route in self.gateway.routes.routes:
                if route.upstream == self.route.upstream and (gateway_path := route.gateway_path(path)):
                    break
        if gateway_path is None:
            return value
        public = self.gateway.settings.public_url
        origin = str(public).rstrip("/") if public else str(self.request.base_url).rstrip("/")
        query = f"?{target.query.decode()}" if target.query else ""
        return f"{origin}{gateway_path}{query}"


def cookieless() -> CookieJar:
    """A jar that keeps no cookie: the gateway's HTTP clients act for many callers at once."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


async def _released(upstream: aiohttp.ClientResponse) -> None:
    upstream.release()


def _octets_kept(name: str, value: str) -> str:
    """A received header value (Latin-1 decoded octets) as a string that goes out as the same octets:
    the upstream client writes UTF-8, so non-ASCII octets must be UTF-8 already."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(400, "Bad Request", f"header {name} holds octets that are not UTF-8; "
                                               "they cannot be passed on unchanged") from None


def _percent_encoded(raw: bytes) -> bytes:
    """``raw`` with every byte outside the URL characters percent-encoded (existing escapes kept)."""
    return quote(raw, safe=_URL_SAFE).encode("ascii")


def _connection_tokens(header: str | None) -> frozenset[str]:
    """Header names a ``Connection`` header marks as hop-by-hop (RFC 9110 7.6.1)."""
    if not header:
        return frozenset()
    return frozenset(token.strip().lower() for token in header.split(",") if token.strip())
