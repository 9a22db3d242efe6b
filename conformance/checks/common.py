"""Checks and helpers every MIM shares: the self-description at ``/.well-known/mim`` (profile
``mim``) and the PPI contract of a payload: its examples accepted or refused, its responses valid,
its JSON-LD expanding with no dropped term."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

import ppi_schemas
from conformance.model import MIMS, Failed
from conformance.registry import all_checks, check
from conformance.session import Session
from ppi_schemas.jsonld.terms import unmapped_terms

DESCRIPTION = "mim-description@1.0.0"
PROBLEM = "problem-details@1.0.0"
PROBLEM_TYPES = ("application/problem+json", "application/json")
"""RFC 9457 problem details; NGSI-LD sends its ProblemDetails as application/json (clause 6.3.6)."""


def body(response: httpx.Response) -> Any:
    """The response's JSON, or a failure saying the target sent none."""
    try:
        return response.json()
    except ValueError:
        raise Failed(f"{response.request.method} {response.request.url.path} answered "
                       f"{response.status_code} with no JSON body: {response.text[:200]!r}") from None


def conforms(session: Session, payload: Any, ppi: str, what: str) -> None:
    """``payload`` validates against ``ppi``; else a failure listing the first problems."""
    problems = ppi_schemas.validate(payload, ppi)
    session.expect(not problems, f"{what} is not a valid {ppi}: " + "; ".join(
        f"{p.pointer or '/'} {p.message}" for p in problems[:5]))


def no_dropped_terms(session: Session, document: Any, what: str) -> None:
    """Every member of the JSON-LD ``document`` maps to an IRI under its own ``@context``."""
    dropped = unmapped_terms(document)
    session.expect(not dropped, f"{what}: JSON-LD expansion drops " + ", ".join(
        f"{term.pointer} ({term.term})" for term in dropped[:8]))


def problem(session: Session, response: httpx.Response, statuses: range | tuple[int, ...], what: str) -> dict[str, Any]:
    """``response`` is a refusal with a status in ``statuses`` and a problem-details body (type or
    title, and status when it gives one equal to the HTTP status; valid against PPI problem-details
    when it is application/problem+json)."""
    session.expect(response.status_code in statuses, f"{what}: expected {_statuses(statuses)}, got "
                   f"{response.status_code} {response.text[:200]!r}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    session.expect(media_type in PROBLEM_TYPES, f"{what}: a refusal should be problem+json, got {media_type or 'no'} "
                   "Content-Type")
    document = body(response)
    session.expect(isinstance(document, dict) and ("type" in document or "title" in document),
                   f"{what}: the problem has neither type nor title: {response.text[:200]!r}")
    if "status" in document:
        session.expect(document["status"] == response.status_code, f"{what}: the problem says status "
                       f"{document['status']} but the HTTP status is {response.status_code}")
    if media_type == "application/problem+json":
        conforms(session, document, PROBLEM, f"{what}: the problem")
    return document


def _statuses(statuses: range | tuple[int, ...]) -> str:
    return f"{statuses.start}-{statuses.stop - 1}" if isinstance(statuses, range) else " or ".join(map(str, statuses))


Send = Callable[[Any, str], Awaitable[httpx.Response]]
"""Sends one example payload (with a name to make unique what must be) and returns the answer."""


async def examples_accepted(session: Session, ppi: str, send: Send, statuses: tuple[int, ...] = (200, 201, 204)) -> None:
    """Every valid example of ``ppi`` is accepted."""
    refused = []
    for example in ppi_schemas.get(ppi).examples_valid:
        answer = await send(example.payload, example.name)
        if answer.status_code not in statuses:
            refused.append(f"{example.name}: {answer.status_code} {answer.text[:160]!r}")
    session.expect(not refused, f"valid {ppi} examples refused: " + "; ".join(refused))


async def examples_refused(session: Session, ppi: str, send: Send) -> None:
    """Every invalid example of ``ppi`` is refused with a 4xx problem."""
    accepted = []
    for example in ppi_schemas.get(ppi).examples_invalid:
        answer = await send(example.payload, example.name)
        if not 400 <= answer.status_code < 500:
            accepted.append(f"{example.name} ({example.reason}): {answer.status_code}")
            continue
        problem(session, answer, range(400, 500), f"invalid example {example.name}")
    session.expect(not accepted, f"invalid {ppi} examples not refused with 4xx: " + "; ".join(accepted))


def _wellknown(mim: str) -> None:
    @check(f"{mim}.wellknown.mim", "Describes itself at /.well-known/mim (PPI mim-description)", mim=mim,
           source=f"PPI {DESCRIPTION}; OUP design rule 3", profile="mim")
    async def described(session: Session) -> None:
        headers = await session.bearer()  # behind a gateway every route may need a token
        answer = await session.http.get("/.well-known/mim", headers=headers)
        session.expect(answer.status_code == 200, f"GET /.well-known/mim answered {answer.status_code}")
        document = body(answer)
        conforms(session, document, DESCRIPTION, "/.well-known/mim")
        unknown = []
        for declared in (*document.get("consumes", []), *document.get("produces", [])):
            try:
                ppi_schemas.get(f"{declared['ppi']}@{declared['version']}")
            except ppi_schemas.PPINotFound:
                unknown.append(f"{declared['ppi']}@{declared['version']}")
        session.expect(not unknown, f"declares PPIs this suite does not know: {', '.join(unknown)}")
        sources = " ".join([PROBLEM, *(one.source for one in all_checks() if one.mim == mim)])  # problem(): every refusal
        unexercised = sorted({f"{d['ppi']}@{d['version']}" for d in (*document.get("consumes", []),
                              *document.get("produces", [])) if f"{d['ppi']}@{d['version']}" not in sources})
        if unexercised:
            session.note(f"declared PPIs no {mim} check exercises by name (known, not tested here): "
                         + ", ".join(unexercised))
        for link in ("openapi", "health"):
            url = document.get(link)
            if url:  # true, not only present: the links it gives answer
                reached = await session.http.get(url, headers=headers)
                session.expect(reached.status_code == 200, f"its {link} link {url} answered {reached.status_code}")


for _mim in MIMS:
    _wellknown(_mim)
