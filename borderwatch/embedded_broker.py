"""An in-process MQTT broker (amqtt) for the zero-setup demo.

amqtt 0.12 speaks MQTT 3.1.1 only; ``MqttSession`` falls back to it by itself.
Production and tests use mosquitto.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker

log = logging.getLogger(__name__)


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
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(_quiet_refused_connects)
    await broker.start()
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        await broker.shutdown()
        loop.set_exception_handler(previous)


def _quiet_refused_connects(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Drop amqtt's traceback when a client hangs up on its refusal of an MQTT 5 CONNECT.

    Every ``MqttSession`` first tries MQTT 5, which amqtt refuses; the client closes
    the socket and amqtt's own close then fails with ENOTCONN in a callback. That is
    the expected fallback path, not an error worth a traceback on the demo screen.
    """
    exc = context.get("exception")
    if isinstance(exc, OSError) and context.get("message") == "Unhandled exception in client_connected_cb":
        log.debug("amqtt: client closed after a refused CONNECT: %s", exc)
        return
    loop.default_exception_handler(context)
