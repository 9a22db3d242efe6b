"""The identity MIM's trust list: entries from the trust list file plus entries managed over HTTP.

The file (kit setting ``trust_list_file``) is the operator's, under configuration management, so
its entries are read-only here; the admin API adds, replaces and removes entries in the
``identity_trusted_issuer`` table (migration ``identity_0005``). :class:`IdentityTrust` merges
both into one :class:`~mims.kit.auth.TrustList` for token exchange and for publication, re-read
every few seconds so that replicas follow each other's changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit.auth import InvalidTrustList, TrustList, TrustListFile
from mims.kit.auth.trust import TrustListUnavailable
from mims.kit.storage import begin_write

log = logging.getLogger(__name__)

metadata = sa.MetaData()

#: Longest issuer identifier the table holds.
MAX_ISSUER_LENGTH = 1024

trusted_issuers = sa.Table(
    "identity_trusted_issuer",
    metadata,
    sa.Column("issuer", sa.String(MAX_ISSUER_LENGTH), primary_key=True),
    sa.Column("entry", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class SqlTrustedIssuerStore:
    """Trusted issuer entries (PPI ``trust-list`` TrustedIssuer objects) on the MIM's engine."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    async def all(self) -> list[dict[str, Any]]:
        """Every stored entry, by issuer."""
        query = sa.select(trusted_issuers.c.entry).order_by(trusted_issuers.c.issuer)
        async with self._engine.connect() as connection:
            return [row.entry for row in (await connection.execute(query)).all()]

    async def put(self, entry: dict[str, Any]) -> bool:
        """Store ``entry`` (already valid), replacing the one for its issuer; True if it is new."""
        issuer = entry["issuer"]
        async with begin_write(self._engine) as connection:
            found = await connection.execute(
                sa.select(trusted_issuers.c.issuer).where(trusted_issuers.c.issuer == issuer)
            )
            values = {"entry": entry, "updated_at": self._clock()}
            if found.first() is None:
                await connection.execute(trusted_issuers.insert().values(issuer=issuer, **values))
                return True
            update = trusted_issuers.update().where(trusted_issuers.c.issuer == issuer)
            await connection.execute(update.values(**values))
            return False

    async def delete(self, issuer: str) -> bool:
        """Forget ``issuer``; False if it was not stored."""
        async with self._engine.begin() as connection:
            result = await connection.execute(trusted_issuers.delete().where(trusted_issuers.c.issuer == issuer))
        return result.rowcount > 0


class IdentityTrust:
    """The merged trust list (a kit :class:`~mims.kit.auth.trust.TrustSource`).

    Stored entries are re-read at most every ``ttl`` seconds, and at once after this process
    changed them (:meth:`changed`). An issuer in both the file and the table is taken from the
    file. The same :class:`TrustList` object is handed out while nothing changes, so verifiers
    keep what they cached for it.
    """

    def __init__(
        self, *, file: TrustListFile | None, store: Callable[[], SqlTrustedIssuerStore], ttl: float = 5.0
    ) -> None:
        self._file = file
        self._store = store
        self._ttl = ttl
        self._list: TrustList | None = None
        self._document: dict[str, Any] | None = None
        self._read_at = -float("inf")

    async def current(self) -> TrustList:
        if self._list is None or time.monotonic() - self._read_at >= self._ttl:
            try:
                await self._read()
            except (sa.exc.SQLAlchemyError, InvalidTrustList) as exc:
                # Only the class of a database error: driver messages can carry credentials.
                reason = str(exc) if isinstance(exc, InvalidTrustList) else type(exc).__name__
                if self._list is None:
                    raise TrustListUnavailable(f"trust list unavailable: {reason}") from None
                log.warning("trust list not re-read, keeping the last: %s", reason)
        assert self._list is not None
        return self._list

    async def read_only(self) -> frozenset[str]:
        """Issuers listed by the trust list file, which the admin API cannot change."""
        return frozenset((await self._file.current()).issuers) if self._file is not None else frozenset()

    def changed(self) -> None:
        """The stored entries were changed: read them again on the next use."""
        self._read_at = -float("inf")

    async def aclose(self) -> None:
        """Nothing to release: the file is read whole, the store uses the MIM's engine."""

    async def _read(self) -> None:
        started = time.monotonic()
        from_file = (await self._file.current()).document()["issuers"] if self._file is not None else []
        read_only = frozenset(entry["issuer"] for entry in from_file)
        stored = []
        for entry in await self._store().all():
            if entry["issuer"] in read_only:
                log.warning("trust list: %s is in the file and stored; the file's entry applies", entry["issuer"])
            else:
                stored.append(entry)
        document = {"issuers": [*from_file, *stored]}
        if document != self._document:
            self._list = TrustList.from_document(document, "of the identity MIM")
            self._document = document
        self._read_at = started
