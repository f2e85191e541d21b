"""Run a console: uvicorn on a socket we bind ourselves (port 0 works), plus the feed and the ticker.

``serve_console`` (live, from a broker) and ``serve_replay`` (a replay output
directory) return when ``stop`` is set, after ending every page's stream so the
server does not wait on open SSE connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

import uvicorn

from borderwatch.console.app import Basemap, Console, build_app, check_assets
from borderwatch.console.feed import MqttFeed
from borderwatch.console.replay import ReplayPlayer, load_run
from fusion.site import Site

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the caller owns shutdown through ``stop``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


async def _run(
    console: Console,
    host: str,
    port: int,
    stop: asyncio.Event | None,
    ready: Callable[[str], None] | None,
    background: list[Coroutine[Any, Any, None]],
) -> None:
    check_assets()
    stop = stop or asyncio.Event()
    sock = _bind(host, port)
    config = uvicorn.Config(build_app(console), log_level="warning", lifespan="off", timeout_graceful_shutdown=2,
                            access_log=False)
    server = _Server(config)
    tasks = [asyncio.create_task(c) for c in background]
    tasks.append(asyncio.create_task(console.tick_loop()))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                await serving  # raises what stopped it
                raise RuntimeError("console: web server exited before it started")
            await asyncio.sleep(0.02)
        url = _url(sock)
        log.info("console: %s", url)
        if ready:
            ready(url)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({stopper, serving}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        console.hub.close()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        sock.close()


async def serve_console(
    site: Site,
    broker_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
    prefix: str = "bw/v1",
    operator: str = "console",
    basemap: Basemap | None = None,
    batch_hz: float = 4.0,
    clock: Callable[[], float] = time.time,
    clock_rate: float = 1.0,
) -> None:
    """Serve the live console for ``site`` from the broker at ``broker_url`` until ``stop`` is set.

    ``port`` 0 picks a free port; ``ready(url)`` is called once the page can be loaded.
    ``clock``/``clock_rate``: "now" in epoch seconds and its pace against wall time (a
    demo's ``WarpClock.now`` and its speed), for ETA countdowns, ack times and staleness.
    ``basemap``: optional raster tiles (a tile server's URL template or a local tile directory).
    Raises ``ConsoleAssetsMissing`` if Leaflet was not vendored (``make vendor``).
    """
    console = Console(site, prefix=prefix, operator=operator, basemap=basemap, batch_hz=batch_hz, clock=clock, clock_rate=clock_rate)
    pic = console.picture

    def on_message(topic: str, payload: dict | None, ok: bool) -> None:
        if not ok:
            pic.messages += 1
            pic.bad_messages += 1
            return
        pic.apply(topic, payload, console.now())

    feed = MqttFeed(broker_url, prefix, on_message, on_connect=pic.expect_retained_again, on_settled=pic.drop_unconfirmed)
    console.publish = feed.publish
    console.link = lambda: feed.connected
    await _run(console, host, port, stop, ready, [feed.run()])


async def serve_replay(
    site: Site,
    run_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
    prefix: str = "bw/v1",
    basemap: Basemap | None = None,
    speed: float = 1.0,
    autoplay: bool = False,
) -> None:
    """Serve the console over a ``borderwatch replay --out`` directory, with a time scrubber."""
    console = Console(site, prefix=prefix, basemap=basemap)
    player = ReplayPlayer(load_run(run_dir), console.picture)
    player.set_speed(speed)
    player.playing = autoplay
    console.player = player
    await _run(console, host, port, stop, ready, [])
