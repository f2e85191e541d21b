"""The console's MQTT side: subscribe to the service's outbound topics, publish operator actions.

MQTT 3.1.1 with a clean session, on purpose: a console wants the *current*
picture, which the broker hands over as retained messages (open alert state,
sensor status) on every subscribe, not a backlog of stale track updates. Works
against mosquitto and against the demo's embedded amqtt (3.1.1 only).

aiomqtt 2.x does not reconnect by itself: ``run`` loops with capped exponential
backoff, and after each reconnect drops alerts whose retained state the broker
no longer has (they ended while we were away).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiomqtt

log = logging.getLogger(__name__)

#: After a (re)connect, how long retained messages get to arrive before stale alerts are dropped.
RETAINED_GRACE_S = 3.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0


class ConsoleUnavailable(RuntimeError):
    """The broker is not connected, so an operator action cannot be sent now."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> Broker:
    """``mqtt://[user:pass@]host[:port]`` (1883), ``mqtts://...`` (TLS, 8883), or bare ``host:port``."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
    tls = parts.scheme in ("mqtts", "ssl")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    return Broker(parts.hostname, parts.port or (8883 if tls else 1883), tls, parts.username, parts.password)


def outbound_filters(prefix: str) -> list[str]:
    """Everything the console shows: the service's output plus sensor and team traffic."""
    return [
        f"{prefix}/tracks/+",
        f"{prefix}/alerts",
        f"{prefix}/alerts/state/+",
        f"{prefix}/dispatch/+",
        f"{prefix}/dispatch/+/reply",
        f"{prefix}/sensors/+/+/status",
        f"{prefix}/sensors/+/+/detections",
        f"{prefix}/teams/+/position",
    ]


def decode_payload(topic: str, raw: bytes) -> tuple[bool, dict | None]:
    """(ok, payload): empty -> None (a cleared retained topic); radar detections are not parsed
    (only their arrival matters to the console, and they are the bulk of the traffic)."""
    if not raw:
        return True, None
    if topic.endswith("/detections") and "/sensors/radar/" in topic:
        return True, {}
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return False, None
    return isinstance(obj, dict), obj if isinstance(obj, dict) else None


OnMessage = Callable[[str, dict | None, bool], None]  # topic, payload (None = empty), decoded ok


class MqttFeed:
    """One broker connection, kept up for the console's lifetime."""

    def __init__(self, broker_url: str, prefix: str, on_message: OnMessage, on_connect: Callable[[], None] | None = None,
                 on_settled: Callable[[], None] | None = None) -> None:
        self.broker = parse_broker_url(broker_url)
        self.prefix = prefix
        self.on_message = on_message
        self.on_connect = on_connect
        self.on_settled = on_settled
        self.connected = False
        self.connects = 0
        self._client: aiomqtt.Client | None = None

    def _make_client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            identifier=f"bw-console-{os.getpid()}-{os.urandom(3).hex()}",
            username=self.broker.username,
            password=self.broker.password,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=True,
            keepalive=15,
            tls_context=ssl.create_default_context() if self.broker.tls else None,
        )

    async def run(self) -> None:
        """Connect, subscribe, dispatch messages; reconnect forever (cancel the task to stop)."""
        attempt = 0
        while True:
            settle: asyncio.Task | None = None
            try:
                async with self._make_client() as client:
                    self._client, attempt = client, 0
                    self.connects += 1
                    if self.on_connect:
                        self.on_connect()
                    await client.subscribe([(f, 1) for f in outbound_filters(self.prefix)])
                    self.connected = True  # only now does the console see what is published
                    if self.on_settled:
                        settle = asyncio.create_task(self._settle_later())
                    log.info("console: connected to %s:%d", self.broker.host, self.broker.port)
                    async for m in client.messages:
                        raw = m.payload if isinstance(m.payload, (bytes, bytearray)) else str(m.payload or "").encode()
                        topic = m.topic.value
                        ok, payload = decode_payload(topic, bytes(raw))
                        self.on_message(topic, payload, ok)
            except aiomqtt.MqttError as exc:
                log.warning("console: broker %s:%d: %s", self.broker.host, self.broker.port, exc)
            finally:
                self._client, self.connected = None, False
                if settle is not None:
                    settle.cancel()
            await asyncio.sleep(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
            attempt += 1

    async def _settle_later(self) -> None:
        await asyncio.sleep(RETAINED_GRACE_S)
        if self.on_settled:
            self.on_settled()

    async def publish(self, topic: str, payload: dict, timeout_s: float = 5.0) -> None:
        """Publish a JSON object at QoS 1 and wait for the broker's PUBACK."""
        client = self._client
        if client is None or not self.connected:
            raise ConsoleUnavailable("not connected to the broker")
        try:
            await client.publish(topic, json.dumps(payload, separators=(",", ":")).encode(), qos=1, timeout=timeout_s)
        except aiomqtt.MqttError as exc:
            raise ConsoleUnavailable(str(exc)) from exc
