"""Sending one notification to its endpoint: HTTP binding (clause 6.3.6) or MQTT binding (clause 7).

HTTP notifications are POSTed with one shared, pooled :class:`httpx.AsyncClient`; a 2xx answer
is success. MQTT notifications go through :class:`MqttPublishers`, one kept-open connection per
broker. MQTT endpoints ``mqtt[s]://[user[:password]@]host[:port]/topic[/subtopic]*``
(clause 7.2; ports 1883 / 8883 by default) get the notification published on the topic, as
``{"metadata": ..., "body": ...}``, with the MQTT version and QoS the endpoint's
``notifierInfo`` names (``MQTT-Version`` ``mqtt3.1.1`` | ``mqtt5.0``, ``MQTT-QoS`` 0-2; defaults
mqtt5.0 and 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import httpx
import orjson


class DeliveryFailed(Exception):
    """The endpoint did not accept the notification; ``unreachable`` when no connection was made."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


async def send_http(client: httpx.AsyncClient, uri: str, body: Any, headers: Mapping[str, str], timeout: float) -> None:
    """POST the notification; anything but a 2xx answer is a :class:`DeliveryFailed`."""
    try:
        response = await client.post(uri, content=orjson.dumps(body), headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as error:
        unreachable = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
        raise DeliveryFailed(f"{type(error).__name__}: {error}", unreachable=unreachable) from None
    if not response.is_success:
        raise DeliveryFailed(f"the endpoint answered {response.status_code}")


class MqttPublishers:
    """Publish notifications on MQTT brokers (clause 7.2), one open connection per broker and
    identity, reused by every notification to it.

    A kept connection that fails is closed and the notification published once more on a new
    one; a new connection that fails is a :class:`DeliveryFailed` (retried by the dispatcher with
    backoff). Connections idle for ``idle`` seconds are closed.
    """

    def __init__(self, idle: float = 60.0) -> None:
        self._idle = idle
        self._clients: dict[tuple[Any, ...], tuple[aiomqtt.Client, float]] = {}
        self._connecting: dict[tuple[Any, ...], asyncio.Lock] = {}

    async def publish(self, uri: str, body: Any, metadata: Mapping[str, str], notifier_info: Mapping[str, str],
                      timeout: float) -> None:
        """Publish ``{"metadata": ..., "body": ...}`` on the endpoint's topic; :class:`DeliveryFailed` if not."""
        parts = urlsplit(uri)
        topic = unquote(parts.path.lstrip("/"))
        if not topic or parts.hostname is None:
            raise DeliveryFailed(f"{uri} names no MQTT host and topic")
        secure = parts.scheme == "mqtts"
        version = notifier_info.get("MQTT-Version", "mqtt5.0")
        key = (parts.hostname, parts.port or (8883 if secure else 1883), secure,
               unquote(parts.username) if parts.username else None,
               unquote(parts.password) if parts.password else None,
               aiomqtt.ProtocolVersion.V311 if version == "mqtt3.1.1" else aiomqtt.ProtocolVersion.V5)
        message = orjson.dumps({"metadata": dict(metadata), "body": body})
        await self._close_idle()
        while True:
            reused = key in self._clients
            try:
                client = await self._client(key, timeout)
                await client.publish(topic, message, qos=int(notifier_info.get("MQTT-QoS", "0")), timeout=timeout)
            except (aiomqtt.MqttError, OSError) as error:
                await self._discard(key)
                if reused:  # the kept connection had broken meanwhile: once more on a new one
                    continue
                raise DeliveryFailed(f"MQTT: {error}") from None
            self._clients[key] = (client, time.monotonic())
            return

    async def close(self) -> None:
        """Disconnect from every broker."""
        for key in list(self._clients):
            await self._discard(key)

    @property
    def connections(self) -> int:
        """How many broker connections are open."""
        return len(self._clients)

    async def _client(self, key: tuple[Any, ...], timeout: float) -> aiomqtt.Client:
        async with self._connecting.setdefault(key, asyncio.Lock()):
            if key in self._clients:
                return self._clients[key][0]
            host, port, secure, username, password, protocol = key
            client = aiomqtt.Client(host, port, username=username, password=password, protocol=protocol,
                                    tls_context=ssl.create_default_context() if secure else None, timeout=timeout)
            await client.__aenter__()
            self._clients[key] = (client, time.monotonic())
            return client

    async def _discard(self, key: tuple[Any, ...]) -> None:
        entry = self._clients.pop(key, None)
        if entry is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await entry[0].__aexit__(None, None, None)

    async def _close_idle(self) -> None:
        now = time.monotonic()
        for key in [key for key, (_, used) in self._clients.items() if now - used > self._idle]:
            await self._discard(key)
