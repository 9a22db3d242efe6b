"""Federation peers (PPI ``federation-peer``): the other cities' gateways a region answer asks.

Peers come from two places: the ``peers_file`` setting (a JSON array of federation-peer
documents, read-only through the API, checked when the gateway starts) and the admin API
``/admin/peers`` (stored in the gateway's database). A name is unique across both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

import ppi_schemas
from mims.kit.auth import require_scopes
from mims.kit.ppi import openapi_request_body, ppi_body
from mims.kit.problems import ProblemError
from mims.kit.storage import begin_write

PPI = "federation-peer@1.0.0"
DEFAULT_TIMEOUT = 2.0

metadata = sa.MetaData()
peer_table = sa.Table(
    "gateway_peer",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

Source = Literal["file", "admin"]


@dataclass(frozen=True, slots=True)
class Peer:
    """One peer gateway, as its federation-peer document says."""

    name: str
    base_url: str
    issuer: str
    timeout: float
    document: Mapping[str, Any]
    source: Source

    @classmethod
    def from_document(cls, document: Mapping[str, Any], source: Source) -> Peer:
        return cls(
            name=document["name"],
            base_url=document["base_url"],
            issuer=document["issuer"],
            timeout=float(document.get("timeout", DEFAULT_TIMEOUT)),
            document=document,
            source=source,
        )

    @property
    def auth(self) -> Mapping[str, Any] | None:
        return self.document.get("auth")


def load_peers_file(path: Path) -> list[Peer]:
    """The peers in ``path``; raises ValueError naming the file and every problem, so a
    gateway with a broken peers file does not start."""
    try:
        documents = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"peers file {path}: {exc}") from None
    if not isinstance(documents, list):
        raise ValueError(f"peers file {path}: expected a JSON array of {PPI} documents")
    problems = [
        f"[{index}]{problem.pointer}: {problem.message}"
        for index, document in enumerate(documents)
        for problem in ppi_schemas.validate(document, PPI)
    ]
    names = [document.get("name") for document in documents if isinstance(document, dict)]
    problems += [f"peer {name!r} appears more than once" for name in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise ValueError(f"peers file {path} is not a list of {PPI} documents: " + "; ".join(problems))
    return [Peer.from_document(document, "file") for document in documents]


class PeerStore:
    """File peers (fixed at start) plus admin peers (in the database, read on every call so
    that every gateway process sharing the database sees the same peers)."""

    def __init__(self, engine: AsyncEngine | None, file_peers: list[Peer]) -> None:
        self._engine = engine
        self._file = {peer.name: peer for peer in file_peers}

    async def all(self) -> list[Peer]:
        """Every peer, ordered by name."""
        peers = dict(self._file)
        if self._engine is not None:
            async with self._engine.connect() as connection:
                rows = (await connection.execute(sa.select(peer_table.c.document))).all()
            for (document,) in rows:
                peers.setdefault(document["name"], Peer.from_document(document, "admin"))
        return [peers[name] for name in sorted(peers)]

    async def get(self, name: str) -> Peer | None:
        return next((peer for peer in await self.all() if peer.name == name), None)

    async def put(self, document: Mapping[str, Any]) -> bool:
        """Store an admin peer; True when it is new."""
        name = document["name"]
        self._refuse_file_peer(name)
        async with begin_write(self._storage()) as connection:
            updated = await connection.execute(
                peer_table.update()
                .where(peer_table.c.name == name)
                .values(document=dict(document), updated_at=datetime.now(UTC))
            )
            if updated.rowcount:
                return False
            await connection.execute(
                peer_table.insert().values(name=name, document=dict(document), updated_at=datetime.now(UTC))
            )
            return True

    async def delete(self, name: str) -> bool:
        """Remove an admin peer; False when there was none."""
        self._refuse_file_peer(name)
        async with begin_write(self._storage()) as connection:
            deleted = await connection.execute(peer_table.delete().where(peer_table.c.name == name))
            return bool(deleted.rowcount)

    def _refuse_file_peer(self, name: str) -> None:
        if name in self._file:
            raise ProblemError(
                409, "Conflict", f"peer {name!r} comes from the peers file and cannot be changed through the API"
            )

    def _storage(self) -> AsyncEngine:
        if self._engine is None:
            raise ProblemError(503, "Service Unavailable", "the gateway has no storage for peers")
        return self._engine


def file_peers(app: FastAPI) -> list[Peer]:
    """The peers of the ``peers_file`` setting, read and checked once per app."""
    peers = getattr(app.state, "file_peers", None)
    if peers is None:
        path = getattr(app.state.settings, "peers_file", None)
        peers = app.state.file_peers = load_peers_file(path) if path is not None else []
    return peers


def install(app: FastAPI) -> None:
    """Read the peers file while the app is built, so a broken one stops the gateway from starting."""
    file_peers(app)


def peer_store(request: Request) -> PeerStore:
    return PeerStore(request.app.state.engine, file_peers(request.app))


router = APIRouter(prefix="/admin/peers", tags=["federation"], dependencies=[Depends(require_scopes("admin", always=True))])


PEER_BODY = Depends(ppi_body(PPI))


def _listing(peer: Peer) -> dict[str, Any]:
    return {"source": peer.source, "peer": peer.document}


@router.get("", summary="Every federation peer, with where it is configured")
async def list_peers(request: Request) -> list[dict[str, Any]]:
    return [_listing(peer) for peer in await peer_store(request).all()]


@router.get("/{name}", summary="One federation peer")
async def get_peer(name: str, request: Request) -> dict[str, Any]:
    peer = await peer_store(request).get(name)
    if peer is None:
        raise ProblemError(404, "Not Found", f"no peer named {name!r}")
    return _listing(peer)


@router.put(
    "/{name}",
    summary="Add or replace a federation peer (PPI federation-peer)",
    openapi_extra=openapi_request_body(PPI),
    status_code=200,
)
async def put_peer(name: str, request: Request, response: Response, document: Any = PEER_BODY) -> dict[str, Any]:
    if document["name"] != name:
        raise ProblemError(
            400, "Bad Request", f"the document names peer {document['name']!r} but the path names {name!r}"
        )
    if name == getattr(request.app.state.settings, "city", None):
        raise ProblemError(409, "Conflict", f"{name!r} is this city itself, not a peer")
    if await peer_store(request).put(document):
        response.status_code = 201
    return _listing(Peer.from_document(document, "admin"))


@router.delete("/{name}", summary="Remove a federation peer added through the API", status_code=204)
async def delete_peer(name: str, request: Request) -> Response:
    if not await peer_store(request).delete(name):
        raise ProblemError(404, "Not Found", f"no peer named {name!r} was added through the API")
    return Response(status_code=204)
