"""What a check works with: the target, an HTTP client that keeps every exchange as evidence, and
access tokens obtained as the operator said (``--token``, or client credentials)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from conformance.model import Exchange, Failed, NotRun, Skipped

EXCERPT = 2000
"""Characters of a request or response body kept as evidence."""
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization"}
_SECRETS = "client_secret|password|access_token|refresh_token|id_token|code_verifier|subject_token|token"
_SECRET_VALUES = re.compile(rf'(?P<form>(?:^|&)(?:{_SECRETS})=)[^&]*|(?P<json>"(?:{_SECRETS})"\s*:\s*)"[^"]*"')


@dataclass(frozen=True)
class Target:
    mim: str
    url: str
    """The component's base URL, e.g. ``http://127.0.0.1:8002`` (no trailing slash)."""
    profile: str = "mim"
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    """MIM-specific settings (``--option key=value``), e.g. a second client for the identity checks."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))


class TokenUnavailable(Exception):
    """No access token could be obtained: none given, or the token endpoint refused."""


class NoCredentials(TokenUnavailable):
    """The operator gave neither a token nor client credentials: the check is not run."""


class Session:
    """One run against one target. ``http`` records each exchange into the running check's evidence."""

    def __init__(self, target: Target, timeout: float = 15.0) -> None:
        self.target = target
        self.evidence: list[Exchange] = []
        self.notes: list[str] = []
        self._tokens: dict[tuple[str, str | None], str] = {}
        self._started: dict[int, float] = {}
        self.http = httpx.AsyncClient(base_url=target.url, timeout=timeout, follow_redirects=False,
                                      event_hooks={"request": [self._sent], "response": [self._received]})

    async def aclose(self) -> None:
        await self.http.aclose()

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Evidence and notes of one check, collected afresh."""
        self.evidence, self.notes = [], []
        yield

    async def _sent(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.perf_counter()

    async def _received(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        started = self._started.pop(id(request), time.perf_counter())
        self.evidence.append(Exchange(
            method=request.method, url=str(request.url), request_headers=_masked(request.headers),
            request_body=_excerpt(request.content), status=response.status_code,
            response_headers=_masked(response.headers), response_body=_excerpt(response.content),
            milliseconds=round((time.perf_counter() - started) * 1000, 1)))

    def note(self, text: str) -> None:
        """Something allowed but worth reporting."""
        self.notes.append(text)

    @staticmethod
    def fail(message: str) -> NoReturn:
        raise Failed(message)

    @staticmethod
    def skip(reason: str) -> NoReturn:
        raise Skipped(reason)

    @staticmethod
    def needs(reason: str) -> NoReturn:
        """The check cannot run without input the operator did not give; ``reason`` names the option."""
        raise NotRun(reason)

    def expect(self, condition: object, message: str) -> None:
        if not condition:
            raise Failed(message)

    async def token(self, scope: str | None = None) -> str:
        """An access token: ``--token`` as given, else one from the token endpoint by client
        credentials (cached per scope). TokenUnavailable when neither is possible."""
        if self.target.token:
            return self.target.token
        target = self.target
        token_url = target.token_url or await self._own_token_endpoint()
        if not (target.client_id and target.client_secret and token_url):
            raise NoCredentials("give --token, or --client-id, --client-secret and --token-url")
        return await self._client_token(("", scope), token_url, target.client_id, target.client_secret, scope)

    async def party_token(self, party: str, scope: str | None = None) -> str | None:
        """The token of another party a check needs (e.g. a consumer besides the publisher):
        ``--option {party}_token``, else one issued by client credentials to ``{party}_client_id``
        and ``{party}_client_secret`` at ``--token-url`` (or ``--option token_url``). None when the
        operator gave neither; TokenUnavailable when the token endpoint refuses."""
        options = self.target.options
        if options.get(f"{party}_token"):
            return options[f"{party}_token"]
        client_id, secret = options.get(f"{party}_client_id"), options.get(f"{party}_client_secret")
        token_url = options.get("token_url") or self.target.token_url
        if not (client_id and secret and token_url):
            return None
        return await self._client_token((party, scope), token_url, client_id, secret, scope)

    async def _client_token(self, key: tuple[str, str | None], token_url: str, client_id: str, secret: str,
                            scope: str | None) -> str:
        """A client-credentials access token (RFC 6749 §4.4), cached by ``key`` for the run."""
        if key not in self._tokens:
            data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
            answer = await self.http.post(token_url, data=data, auth=(client_id, secret))
            token = _json(answer).get("access_token")
            if answer.status_code != 200 or not isinstance(token, str):
                raise TokenUnavailable(f"{token_url} gave {client_id} no token: {answer.status_code} {answer.text[:300]}")
            self._tokens[key] = token
        return self._tokens[key]

    async def _own_token_endpoint(self) -> str | None:
        """An identity target's token endpoint, from its RFC 8414 metadata."""
        if self.target.mim != "identity":
            return None
        answer = await self.http.get("/.well-known/oauth-authorization-server")
        endpoint = _json(answer).get("token_endpoint") if answer.status_code == 200 else None
        return endpoint if isinstance(endpoint, str) else None

    async def bearer(self, scope: str | None = None) -> dict[str, str]:
        """``Authorization`` header with :meth:`token`, or no header when no token can be had."""
        try:
            return {"Authorization": f"Bearer {await self.token(scope)}"}
        except TokenUnavailable:
            return {}


def _json(response: httpx.Response) -> Any:
    """The response's JSON object; empty when it is none."""
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _masked(headers: httpx.Headers) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme, _, secret = value.partition(" ")
            value = f"{scheme} …{secret[-6:]}" if secret else "…"
        shown[name] = value
    return shown


def _excerpt(body: bytes) -> str:
    """The start of ``body``, with the values of secrets (form fields and JSON members) masked."""
    text = body[:EXCERPT * 4].decode("utf-8", errors="replace")
    text = _SECRET_VALUES.sub(lambda m: f"{m['form']}…" if m["form"] else f'{m["json"]}"…"', text)
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}… ({len(body):,} bytes)"
