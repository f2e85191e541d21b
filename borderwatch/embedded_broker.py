"""An in-process MQTT broker (amqtt) for the zero-setup demo.

amqtt 0.12 speaks MQTT 3.1.1 only; ``MqttSession`` falls back to it by itself.
Production and tests use mosquitto.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def embedded_broker(port: int | None = None) -> AsyncIterator[str]:
    """Run an anonymous amqtt broker on 127.0.0.1 (a free port by default); yields its URL."""
    port = port or free_port()
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)  # amqtt logs every packet at INFO
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        await broker.shutdown()
