"""Echo's domain: an NGSI-LD entity received becomes a stored, numbered message.

Plain Python, no web framework: the use cases run and are tested without HTTP, and
storage is anything that implements :class:`MessageStore`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Far beyond any real listing, and well inside every database's integer range.
MAX_OFFSET = 1_000_000_000


class MessageNotFound(LookupError):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"no message {message_id!r}")
        self.message_id = message_id


class PageOutOfRange(ValueError):
    def __init__(self, field_name: str, low: int, high: int) -> None:
        super().__init__(f"{field_name} must be between {low} and {high}")
        self.field_name = field_name


@dataclass(frozen=True, slots=True)
class Message:
    """An entity as received: the entity itself, untouched, plus when it arrived."""

    id: str
    entity_id: str
    received_at: datetime
    entity: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entityId": self.entity_id,
            "receivedAt": self.received_at.isoformat(),
            "entity": dict(self.entity),
        }


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of the messages, oldest first; bounds keep a listing cheap."""

    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise PageOutOfRange("limit", 1, MAX_PAGE_SIZE)
        if not 0 <= self.offset <= MAX_OFFSET:
            raise PageOutOfRange("offset", 0, MAX_OFFSET)


@dataclass(frozen=True, slots=True)
class MessagePage:
    page: Page
    total: int
    items: list[Message] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "limit": self.page.limit,
            "offset": self.page.offset,
            "total": self.total,
            "items": [message.to_json() for message in self.items],
        }


class MessageStore(Protocol):
    async def add(self, message: Message) -> None: ...

    async def get(self, message_id: str) -> Message | None: ...

    async def page(self, page: Page) -> tuple[list[Message], int]:
        """The messages of ``page`` in arrival order, and how many there are in all."""
        ...


class Messages:
    """The echo use cases: receive an entity, read one message, list messages."""

    def __init__(self, store: MessageStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    async def receive(self, entity: Mapping[str, Any]) -> Message:
        """Store ``entity`` (already validated against its PPI) as a new message."""
        message = Message(id=uuid.uuid4().hex, entity_id=entity["id"], received_at=self._clock(), entity=entity)
        await self._store.add(message)
        return message

    async def get(self, message_id: str) -> Message:
        message = await self._store.get(message_id)
        if message is None:
            raise MessageNotFound(message_id)
        return message

    async def list(self, page: Page) -> MessagePage:
        items, total = await self._store.page(page)
        return MessagePage(page=page, total=total, items=items)
