"""Sending one notification to its endpoint: HTTP binding (clause 6.3.6) or MQTT binding (clause 7).

HTTP notifications are POSTed with one shared, pooled :class:`httpx.AsyncClient`; a 2xx answer
is success. MQTT endpoints ``mqtt[s]://[user[:password]@]host[:port]/topic[/subtopic]*``
(clause 7.2; ports 1883 / 8883 by default) get the notification published on the topic, as
``{"metadata": ..., "body": ...}``, with the MQTT version and QoS the endpoint's
``notifierInfo`` names (``MQTT-Version`` ``mqtt3.1.1`` | ``mqtt5.0``, ``MQTT-QoS`` 0-2; defaults
mqtt5.0 and 0).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import httpx
import orjson


class DeliveryFailed(Exception):
    """The endpoint did not accept the notification."""


async def send_http(client: httpx.AsyncClient, uri: str, body: Any, headers: Mapping[str, str], timeout: float) -> None:
    """POST the notification; anything but a 2xx answer is a :class:`DeliveryFailed`."""
    try:
        response = await client.post(uri, content=orjson.dumps(body), headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
    if not response.is_success:
        raise DeliveryFailed(f"the endpoint answered {response.status_code}")


async def send_mqtt(
    uri: str, body: Any, metadata: Mapping[str, str], notifier_info: Mapping[str, str], timeout: float
) -> None:
    """Publish the notification on the endpoint's broker and topic (clause 7.2)."""
    parts = urlsplit(uri)
    secure = parts.scheme == "mqtts"
    topic = unquote(parts.path.lstrip("/"))
    if not topic or parts.hostname is None:
        raise DeliveryFailed(f"{uri} names no MQTT host and topic")
    version = notifier_info.get("MQTT-Version", "mqtt5.0")
    protocol = aiomqtt.ProtocolVersion.V311 if version == "mqtt3.1.1" else aiomqtt.ProtocolVersion.V5
    message = orjson.dumps({"metadata": dict(metadata), "body": body})
    try:
        async with aiomqtt.Client(
            parts.hostname,
            parts.port or (8883 if secure else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            protocol=protocol,
            tls_context=ssl.create_default_context() if secure else None,
            timeout=timeout,
        ) as client:
            await client.publish(topic, message, qos=int(notifier_info.get("MQTT-QoS", "0")), timeout=timeout)
    except (aiomqtt.MqttError, OSError) as error:
        raise DeliveryFailed(f"MQTT: {error}") from None
