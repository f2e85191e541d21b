"""The console's ASGI app (starlette): the page, the site as GeoJSON, the SSE stream, operator actions.

Routes
- ``GET /``: the single page; ``/static/...`` its files and the vendored Leaflet.
- ``GET /api/site``: site layers (GeoJSON), rosters, mode and basemap settings.
- ``GET /api/stream``: Server-Sent Events, ``snapshot`` first then ``batch`` (coalesced, ``batch_hz``) and ``clock``.
- ``POST /api/alerts/{alert_id}/action`` ``{"action": "ack"|"dismiss"|"escalate", "operator", "comment"}``:
  published on ``{prefix}/alerts/{alert_id}/ack`` at QoS 1 (CONTRACT.md); 202 once the broker has it.
- ``POST /api/replay`` ``{"op": "play"|"pause"|"seek"|"speed", "t", "speed"}`` (replay mode only).
- ``GET /api/health``: broker link, pages connected, counts.
- ``GET /tiles/{z}/{x}/{y}.png``: a local basemap directory, when one is configured.

POSTs must be ``application/json``: a cross-site form cannot send that without a
CORS preflight, which this app never grants, so another web page cannot ack alerts.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from adapters.timefmt import to_iso
from borderwatch.console.feed import ConsoleUnavailable
from borderwatch.console.geometry import site_geojson, site_summary
from borderwatch.console.picture import Picture
from borderwatch.console.replay import ReplayPlayer
from borderwatch.console.stream import Hub
from fusion.site import Site

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_FILES = ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css")
ACTIONS = ("ack", "dismiss", "escalate")
#: Alert ids become a topic level: no MQTT wildcards or separators.
_ALERT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

Publish = Callable[[str, dict], Awaitable[None]]


@dataclass(frozen=True)
class Basemap:
    """Optional raster tiles under the site layers; none by default (the console is offline).

    Either ``url``, an XYZ template of a tile server you run (``http://tiles.local/{z}/{x}/{y}.png``),
    or ``directory``, a local ``{z}/{x}/{y}.{ext}`` tree that the console itself serves at ``/tiles/``.
    """

    url: str | None = None
    directory: Path | None = None
    ext: str = "png"
    attribution: str = ""
    max_zoom: int = 19

    def __post_init__(self) -> None:
        if (self.url is None) == (self.directory is None):
            raise ValueError("a basemap needs exactly one of url or directory")
        if self.directory is not None and not Path(self.directory).is_dir():
            raise ValueError(f"basemap directory {self.directory} does not exist")

    def for_page(self) -> dict:
        url = self.url or f"/tiles/{{z}}/{{x}}/{{y}}.{self.ext}"
        return {"url": url, "attribution": self.attribution, "max_zoom": self.max_zoom}


class ConsoleAssetsMissing(RuntimeError):
    """The map library was not vendored into the package (``make vendor``)."""


def check_assets() -> None:
    missing = [f for f in VENDOR_FILES if not (STATIC_DIR / f).is_file()]
    if missing:
        raise ConsoleAssetsMissing(
            f"the console's map library is missing ({', '.join(missing)} under {STATIC_DIR}). "
            "Run `make vendor` (npm pack leaflet into borderwatch/console/static/vendor/); "
            "the console never loads it from the internet."
        )


class Console:
    """One console: the picture, the pages watching it, the replay clock or the broker link."""

    def __init__(
        self,
        site: Site,
        *,
        prefix: str = "bw/v1",
        operator: str = "console",
        basemap: Basemap | None = None,
        batch_hz: float = 4.0,
        track_stale_s: float = 120.0,
        clock: Callable[[], float] = time.time,
        clock_rate: float = 1.0,
    ) -> None:
        summary = site_summary(site)
        self.site = site
        self.prefix = prefix
        self.operator = operator
        self.basemap = basemap
        self.batch_hz = batch_hz
        self.now = clock  # epoch seconds; a demo's warped clock runs clock_rate times wall time
        self.clock_rate = clock_rate
        self.picture = Picture(summary["sensors"], summary["teams"], prefix=prefix, track_stale_s=track_stale_s)
        self.hub = Hub(self.snapshot)
        self.site_doc = {"geojson": site_geojson(site), "summary": summary}
        self.player: ReplayPlayer | None = None
        self.publish: Publish | None = None
        self.link: Callable[[], bool] = lambda: False

    @property
    def mode(self) -> str:
        return "replay" if self.player is not None else "live"

    def clock(self) -> dict:
        return self.player.clock() if self.player else {"t": self.now(), "rate": self.clock_rate}

    def meta(self) -> dict:
        """Clock, mode, broker link (and replay state): sent with every snapshot and batch."""
        meta = {"clock": self.clock(), "mode": self.mode, "link": {"mqtt": self.link()}}
        if self.player:
            meta["replay"] = self.player.info()
        return meta

    def snapshot(self) -> dict:
        return {**self.picture.snapshot(), **self.meta()}

    async def tick_loop(self) -> None:
        """Coalesce: every 1/batch_hz s send what changed (or the link/clock when that changed)."""
        period = 1.0 / self.batch_hz
        last = time.monotonic()
        last_prune = last
        last_link = self.link()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            if self.player:
                self.player.advance(now - last)
            elif now - last_prune >= 1.0:
                self.picture.prune(self.now())
                last_prune = now
            last = now
            delta = self.picture.take_delta()
            link = self.link()
            if delta is not None or link != last_link or (self.player and self.player.playing):
                self.hub.broadcast("batch", {**(delta or {}), **self.meta()})
            last_link = link

    async def act(self, alert_id: str, action: str, operator: str, comment: str) -> dict:
        """Publish an operator's decision on an alert (CONTRACT.md ack topic); returns the payload sent."""
        if self.publish is None:
            raise ConsoleUnavailable("replay mode: actions are not sent anywhere")
        now = self.now()
        payload = {"time": to_iso(now), "operator": operator, "action": action, "comment": comment}
        await self.publish(f"{self.prefix}/alerts/{alert_id}/ack", payload)
        self.picture.note_action(alert_id, action, operator, now)
        return payload


def build_app(console: Console) -> Starlette:
    async def index(_: Request) -> Response:
        try:
            check_assets()
        except ConsoleAssetsMissing as exc:
            return PlainTextResponse(str(exc), status_code=500)
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def site(_: Request) -> Response:
        basemap = console.basemap.for_page() if console.basemap else None
        return JSONResponse({**console.site_doc, "mode": console.mode, "basemap": basemap,
                             "operator": console.operator, "prefix": console.prefix, "batch_hz": console.batch_hz})

    async def stream(_: Request) -> Response:
        return StreamingResponse(
            console.hub.stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _json_body(request: Request) -> dict | Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send application/json"}, status_code=415)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        return body if isinstance(body, dict) else JSONResponse({"error": "body must be a JSON object"}, status_code=400)

    async def action(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        act = body.get("action")
        if not _ALERT_ID.match(alert_id) or act not in ACTIONS:
            return JSONResponse({"error": f"action must be one of {ACTIONS} on a valid alert id"}, status_code=400)
        operator = str(body.get("operator") or console.operator)[:64]
        comment = str(body.get("comment") or "")[:500]
        try:
            sent = await console.act(alert_id, act, operator, comment)
        except ConsoleUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse({"sent": sent}, status_code=202)

    async def replay(request: Request) -> Response:
        player = console.player
        if player is None:
            return JSONResponse({"error": "not in replay mode"}, status_code=409)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        op = body.get("op")
        try:
            if op == "play":
                if player.t >= player.t1:
                    player.seek(player.t0)
                    console.hub.resync_all()
                player.playing = True
            elif op == "pause":
                player.playing = False
            elif op == "seek":
                player.seek(float(body["t"]))
                console.picture.take_delta()  # the snapshot below carries it all
                console.hub.resync_all()
            elif op == "speed":
                player.set_speed(float(body["speed"]))
            else:
                return JSONResponse({"error": "op must be play, pause, seek or speed"}, status_code=400)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad {op}: {exc}"}, status_code=400)
        console.hub.broadcast("clock", console.meta())
        return JSONResponse(player.info())

    async def health(_: Request) -> Response:
        return JSONResponse({"mode": console.mode, "mqtt": console.link(), "pages": console.hub.clients,
                             **console.picture.stats()})

    tiles = []
    if console.basemap and console.basemap.directory is not None:
        tiles = [Mount("/tiles", StaticFiles(directory=console.basemap.directory), name="tiles")]
    return Starlette(
        routes=[
            *tiles,
            Route("/", index),
            Route("/api/site", site),
            Route("/api/stream", stream),
            Route("/api/alerts/{alert_id}/action", action, methods=["POST"]),
            Route("/api/replay", replay, methods=["POST"]),
            Route("/api/health", health),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
