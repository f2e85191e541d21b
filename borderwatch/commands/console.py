"""``borderwatch console``: the operations console, live from a broker or over a replay run."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "console",
        help="serve the operations console (live map page) from a broker or a replay output",
        description="Serve the operations console: a live map page with tracks, alerts, field teams and sensor "
        "health. Live from --broker, or --replay RUN_DIR (a `borderwatch replay --out` directory) with a time scrubber.",
    )
    p.add_argument("--site", required=True, type=Path, help="site file (YAML)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--broker", help="broker URL, e.g. mqtt://127.0.0.1:1883")
    src.add_argument("--replay", type=Path, metavar="RUN_DIR", help="replay output directory (tracks.jsonl, alerts.jsonl, dispatch.jsonl)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--prefix", default="bw/v1", help="topic prefix (default bw/v1)")
    p.add_argument("--operator", default="console", help="operator name sent with acks unless the page sets one")
    p.add_argument("--basemap", metavar="URL|DIR", help="optional raster tiles: an XYZ URL template ({z}/{x}/{y}) of a "
                   "tile server you run, or a local {z}/{x}/{y}.png directory the console serves; none by default (offline)")
    p.add_argument("--basemap-ext", default="png", help="tile file extension in a --basemap directory (default png)")
    p.add_argument("--basemap-attribution", default="", help="attribution text shown for --basemap")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed (default 1)")
    p.add_argument("--play", action="store_true", help="replay: start playing at once")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from adapters.site_file import load_site
    from borderwatch.console import Basemap, ConsoleAssetsMissing, serve_console, serve_replay
    from borderwatch.console.replay import ReplayError

    site = load_site(args.site)
    basemap = None
    if args.basemap:
        local = Path(args.basemap).is_dir()
        if not local and "{z}" not in args.basemap:
            print(f"borderwatch console: --basemap {args.basemap}: neither a directory nor a {{z}}/{{x}}/{{y}} URL template", file=sys.stderr)
            return 2
        basemap = Basemap(url=None if local else args.basemap, directory=Path(args.basemap) if local else None,
                          ext=args.basemap_ext, attribution=args.basemap_attribution)
    if args.replay and not args.replay.is_dir():
        print(f"borderwatch console: --replay {args.replay}: not a directory", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"console: {url}", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.replay:
            await serve_replay(site, args.replay, host=args.host, port=args.port, stop=stop, ready=ready,
                               prefix=args.prefix, basemap=basemap, speed=args.speed, autoplay=args.play)
        else:
            await serve_console(site, args.broker, host=args.host, port=args.port, stop=stop, ready=ready,
                                prefix=args.prefix, operator=args.operator, basemap=basemap)

    try:
        asyncio.run(main())
    except (ConsoleAssetsMissing, ReplayError, OSError) as exc:
        print(f"borderwatch console: {exc}", file=sys.stderr)
        return 2
    return 0
