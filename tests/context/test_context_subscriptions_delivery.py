"""Notification delivery over MQTT (clause 7.2) and exactly-once dispatch across broker processes."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from test_context_subscriptions_api import (
    ENTITIES,
    SUBS,
    Receiver,
    broker_app,
    building,
    create,
    subscription,
)

import ppi_schemas
from mims.context.ngsild.subscriptions import normalize_subscription
from mims.context.notify.dispatcher import Dispatcher
from mims.context.notify.senders import DeliveryFailed, MqttPublishers
from mims.context.service import SPEC
from mims.context.storage import SqlEntityStore
from mims.context.storage.subscriptions import SqlSubscriptionStore, deliveries, record_change
from mims.kit import storage
from tests.serving import free_port

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def _require_mqtt() -> None:
    try:
        socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2).close()
    except OSError as error:
        message = f"MQTT broker not reachable at {MQTT_HOST}:{MQTT_PORT}: {error}"
        if os.environ.get("OUP_REQUIRE_MQTT") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize("version", ["mqtt3.1.1", "mqtt5.0"])
def test_mqtt_endpoint_receives_metadata_and_body(tmp_path: Path, version: str) -> None:
    _require_mqtt()
    topic = f"oup-test/{os.getpid()}/{time.monotonic_ns()}"
    messages: list[dict[str, Any]] = []

    async def scenario() -> None:
        listener = await _listening(topic, messages, 1)
        with TestClient(broker_app(tmp_path, None)) as client:
            endpoint = {"uri": f"mqtt://{MQTT_HOST}:{MQTT_PORT}/{topic}",
                        "notifierInfo": [{"key": "MQTT-Version", "value": version}, {"key": "MQTT-QoS", "value": "1"}],
                        "receiverInfo": [{"key": "X-City", "value": "Rotterdam"}]}
            await asyncio.to_thread(create, client, subscription("", notification={"endpoint": endpoint}))
            await asyncio.to_thread(client.post, ENTITIES, json=building())
            await asyncio.wait_for(listener, 10)

    asyncio.run(scenario())
    [message] = messages
    assert message["metadata"]["Content-Type"] == "application/json"
    assert message["metadata"]["X-City"] == "Rotterdam" and "Link" in message["metadata"]
    assert ppi_schemas.is_valid(message["body"], "ngsi-ld-notification@1.0.0")
    assert message["body"]["data"][0]["id"] == "urn:ngsi-ld:Building:1"


def test_two_brokers_on_one_database_notify_each_change_once(tmp_path: Path, postgres_url: str) -> None:
    with Receiver() as receiver, \
            TestClient(broker_app(tmp_path / "a", postgres_url)) as first, \
            TestClient(broker_app(tmp_path / "b", postgres_url)) as second:
        create(first, subscription(receiver.url()))
        count = 30
        for number in range(count):
            client = first if number % 2 else second
            assert client.post(ENTITIES, json=building(number)).status_code == 201
        receiver.wait(count, timeout=20)
        time.sleep(0.5)
        ids = [item["body"]["data"][0]["id"] for item in receiver.received]
        assert sorted(ids) == sorted(f"urn:ngsi-ld:Building:{number}" for number in range(count))
        assert len({item["body"]["id"] for item in receiver.received}) == count
        deadline = time.monotonic() + 10
        while second.get(SUBS).json()[0]["notification"]["timesSent"] < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert second.get(SUBS).json()[0]["notification"]["timesSent"] == count


def test_mqtt_notifications_to_one_broker_share_one_connection() -> None:
    """Every notification to a broker goes over one kept-open connection; a connection that
    breaks is dropped and the next notification connects afresh."""
    _require_mqtt()
    topic = f"oup-test/{os.getpid()}/{time.monotonic_ns()}"
    uri = f"mqtt://{MQTT_HOST}:{MQTT_PORT}/{topic}"
    messages: list[dict[str, Any]] = []

    async def scenario() -> None:
        listener = await _listening(topic, messages, 6)
        publishers = MqttPublishers()
        qos = {"MQTT-QoS": "1"}
        for n in range(3):
            await publishers.publish(uri, {"n": n}, {}, qos, 5)
        await publishers.publish(uri, {"n": 3}, {}, {**qos, "MQTT-Version": "mqtt3.1.1"}, 5)
        assert publishers.connections == 2  # one per protocol version: different sessions
        for client, _ in list(publishers._clients.values()):
            await client.__aexit__(None, None, None)  # the broker connections go away...
        await publishers.publish(uri, {"n": 4}, {}, qos, 5)  # ...and are made again when needed
        await publishers.publish(uri, {"n": 5}, {}, {**qos, "MQTT-Version": "mqtt3.1.1"}, 5)
        assert publishers.connections == 2
        await asyncio.wait_for(listener, 10)
        await publishers.close()
        assert publishers.connections == 0
        with pytest.raises(DeliveryFailed, match="names no MQTT host and topic"):
            await publishers.publish(f"mqtt://{MQTT_HOST}:{MQTT_PORT}", {}, {}, {}, 5)
        with pytest.raises(DeliveryFailed, match="MQTT"):  # nothing listens there
            await publishers.publish(f"mqtt://127.0.0.1:{free_port()}/t", {}, {}, {}, 2)
        assert publishers.connections == 0

    asyncio.run(scenario())
    assert [message["body"]["n"] for message in messages] == [0, 1, 2, 3, 4, 5]


async def _listening(topic: str, messages: list[dict[str, Any]], count: int) -> asyncio.Task[None]:
    """A subscriber on ``topic`` (subscribed when this returns) that keeps ``count`` messages."""
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as mqtt:
            await mqtt.subscribe(topic, qos=1)
            subscribed.set()
            async for message in mqtt.messages:
                messages.append(orjson.loads(message.payload))
                if len(messages) == count:
                    return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), 5)
    return listener


def test_a_change_made_before_a_subscription_existed_is_not_notified_to_it(tmp_path: Path) -> None:
    """The outbox may be matched after a new subscription appeared: it gets only later changes."""
    app = broker_app(tmp_path, None)
    now = datetime.now(UTC)

    async def scenario() -> list[int]:
        context = await app.state.context_resolver.resolve([])

        def watching(number: int) -> dict[str, Any]:
            return normalize_subscription({"id": f"urn:ngsi-ld:Subscription:{number}", "type": "Subscription",
                                           "entities": [{"type": "Building"}], "notificationTrigger": ["entityCreated"],
                                           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}}, context)

        engine = storage.create_engine(storage.default_database_url("context", tmp_path))
        await storage.migrate(engine, "context", SPEC.migrations)
        app.state.engine = engine
        subscriptions = SqlSubscriptionStore(engine)
        entities = SqlEntityStore(engine, [record_change])
        await subscriptions.create("", watching(1), [], now - timedelta(seconds=1))
        await entities.create("", stored_building(1, now))  # queued for notification, not yet matched
        await subscriptions.create("", watching(2), [], now + timedelta(seconds=1))
        await entities.create("", stored_building(2, now + timedelta(seconds=2)))
        dispatcher = Dispatcher(engine, app.state.context_resolver, app.state.settings)
        await dispatcher._match_changes()
        async with engine.connect() as connection:
            rows = await connection.execute(sa.select(deliveries.c.subscription_pk).order_by(deliveries.c.pk))
            queued = [row.subscription_pk for row in rows]
        await engine.dispose()
        return queued

    assert asyncio.run(scenario()) == [1, 1, 2]  # Building 1 to the first only, Building 2 to both


def stored_building(number: int, at: datetime) -> dict[str, Any]:
    text = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"id": f"urn:ngsi-ld:Building:{number}", "type": ["https://uri.etsi.org/ngsi-ld/default-context/Building"],
            "createdAt": text, "modifiedAt": text, "attributes": {}}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_notifications_to_an_unreachable_endpoint_wait_for_it_instead_of_each_trying(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    """After a refused connection the endpoint is paused for the first retry delay: notifications
    meanwhile are not attempted (nor counted as failures) and all arrive once it listens."""
    database_url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    receiver = Receiver()  # its port is chosen but nothing listens yet
    with TestClient(broker_app(tmp_path, database_url, notification_retry_delay=1.5)) as client:
        sid = create(client, subscription(receiver.url()))

        def status() -> dict[str, Any]:
            return client.get(f"{SUBS}/{sid}").json()["notification"]

        client.post(ENTITIES, json=building(1))
        deadline = time.monotonic() + 5
        while status().get("timesFailed") != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        for number in range(2, 6):
            client.post(ENTITIES, json=building(number))
        engine = client.app.state.engine

        async def waiting() -> list[int]:
            async with engine.connect() as connection:
                rows = await connection.execute(sa.select(deliveries.c.attempts).order_by(deliveries.c.pk))
                return [row.attempts for row in rows]

        deadline = time.monotonic() + 5
        while len(client.portal.call(waiting)) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.portal.call(waiting) == [1, 0, 0, 0, 0]
        assert status()["timesFailed"] == 1
        with receiver:
            received = receiver.wait(5, timeout=10)
        assert sorted(item["body"]["data"][0]["id"] for item in received) == [
            f"urn:ngsi-ld:Building:{number}" for number in range(1, 6)]
        assert status()["timesSent"] == 5 and status()["timesFailed"] == 1
