"""``borderwatch record --broker URL --out FILE``: record the service's inbound traffic."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from adapters.topics import DEFAULT_PREFIX, Topics
from borderwatch.recorder import record


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record sensor, team, ack and reply messages from a broker into a recording")
    p.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    p.add_argument("--out", type=Path, required=True, help="recording file: .jsonl (appended to, flushed per message) or .mcap")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help="topic prefix (default bw/v1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.duration is not None:
            loop.call_later(args.duration, stop.set)
        def ready() -> None:
            print(f"recording {args.broker} -> {args.out} (Ctrl-C to stop)", file=sys.stderr, flush=True)

        n = await record(args.broker, args.out, topics=Topics(args.prefix), stop=stop, on_ready=ready)
        print(f"recorded {n} messages to {args.out}")
        return 0

    return asyncio.run(main())
