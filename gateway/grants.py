"""Data-access grants: scopes a client holds through contracts, beyond those in its token.

The marketplace will sign contracts ("client X may read dataset Y, entity types Z"); the gateway
enforces them by asking a :class:`GrantSource` when a token alone lacks a route's scopes. Answers
are cached per (client, subject) for a short TTL so a busy client costs one lookup per TTL, and a
revoked contract stops working within it. Until the marketplace exists, :class:`NoGrants` grants
nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cachetools import TTLCache


@dataclass(frozen=True, slots=True)
class Grant:
    """``scopes`` granted for ``dataset``; limited to ``entity_types`` unless that is None."""

    dataset: str
    scopes: frozenset[str]
    entity_types: frozenset[str] | None = None

    def covers(self, scopes: Iterable[str], entity_types: Iterable[str]) -> bool:
        """True if this grant alone gives every one of ``scopes`` for every one of ``entity_types``.

        A grant limited to entity types covers only requests that name types, all of them its own.
        """
        if not set(scopes) <= self.scopes:
            return False
        if self.entity_types is None:
            return True
        types = set(entity_types)
        return bool(types) and types <= self.entity_types


class GrantSource(Protocol):
    """Where grants come from (the marketplace's contracts)."""

    async def grants(self, client_id: str, subject: str) -> list[Grant]: ...


class NoGrants:
    """The default source: tokens alone decide."""

    async def grants(self, client_id: str, subject: str) -> list[Grant]:
        return []


class CachedGrants:
    """A :class:`GrantSource` remembering each (client, subject)'s answer for ``ttl`` seconds."""

    def __init__(self, source: GrantSource, *, ttl: float, maxsize: int = 10_000) -> None:
        self.source = source
        self._cache: TTLCache[tuple[str, str], list[Grant]] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None
        )

    async def grants(self, client_id: str, subject: str) -> list[Grant]:
        if self._cache is None:
            return await self.source.grants(client_id, subject)
        key = (client_id, subject)
        found = self._cache.get(key)
        if found is None:
            found = await self.source.grants(client_id, subject)
            self._cache[key] = found
        return found
