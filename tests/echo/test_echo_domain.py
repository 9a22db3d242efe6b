"""Echo's use cases run without HTTP or a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mims.echo.domain import MAX_OFFSET, MAX_PAGE_SIZE, Message, MessageNotFound, Messages, Page, PageOutOfRange

ENTITY = {"id": "urn:ngsi-ld:Building:1", "type": "Building", "name": {"type": "Property", "value": "Depot"}}
NOON = datetime(2025, 6, 1, 12, tzinfo=UTC)


class ListStore:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def add(self, message: Message) -> None:
        self.messages.append(message)

    async def get(self, message_id: str) -> Message | None:
        return next((m for m in self.messages if m.id == message_id), None)

    async def page(self, page: Page) -> tuple[list[Message], int]:
        return self.messages[page.offset : page.offset + page.limit], len(self.messages)


@pytest.fixture
def messages() -> Messages:
    return Messages(ListStore(), clock=lambda: NOON)


async def test_receive_then_get(messages):
    message = await messages.receive(ENTITY)
    assert (message.entity_id, message.received_at, message.entity) == (ENTITY["id"], NOON, ENTITY)
    assert await messages.get(message.id) == message


async def test_each_message_gets_a_new_id(messages):
    first, second = await messages.receive(ENTITY), await messages.receive(ENTITY)
    assert first.id != second.id


async def test_missing_message(messages):
    with pytest.raises(MessageNotFound):
        await messages.get("nope")


async def test_list_pages_in_arrival_order(messages):
    received = [await messages.receive({**ENTITY, "id": f"urn:ngsi-ld:Building:{n}"}) for n in range(5)]
    page = await messages.list(Page(limit=2, offset=1))
    assert (page.items, page.total) == (received[1:3], 5)
    assert page.to_json()["items"][0]["entityId"] == "urn:ngsi-ld:Building:1"


@pytest.mark.parametrize(
    ("limit", "offset", "field"),
    [(0, 0, "limit"), (MAX_PAGE_SIZE + 1, 0, "limit"), (1, -1, "offset"), (1, MAX_OFFSET + 1, "offset")],
)
def test_page_bounds(limit, offset, field):
    with pytest.raises(PageOutOfRange) as caught:
        Page(limit=limit, offset=offset)
    assert caught.value.field_name == field


def test_message_json_shape():
    message = Message(id="m1", entity_id="urn:x", received_at=NOON, entity={"id": "urn:x"})
    assert message.to_json() == {
        "id": "m1",
        "entityId": "urn:x",
        "receivedAt": "2025-06-01T12:00:00+00:00",
        "entity": {"id": "urn:x"},
    }
