"""``borderwatch demo``: embedded broker, live service, console, simulated incident, report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

from adapters.site_file import ConfigError
from borderwatch.demo import DEFAULT_SCENARIO, run_demo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a simulated incident through the live service and write a report")
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario file (default: a group crossing near tower-02)")
    p.add_argument("--broker", default=None, help="use this broker (mqtt://HOST:PORT) instead of the embedded one")
    p.add_argument("--speed", type=float, default=8.0, help="how many times faster than real time (default 8)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/demo-<UTC time>)")
    p.add_argument("--console-port", type=int, default=0, help="console port (default: any free port)")
    p.add_argument("--no-console", action="store_true", help="do not serve the operations console")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / f"demo-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    try:
        asyncio.run(
            run_demo(args.scenario, out, broker_url=args.broker, speed=args.speed, console_port=None if args.no_console else args.console_port)
        )
    except ConfigError as exc:
        print(f"borderwatch demo: {exc}", file=sys.stderr)
        return 2
    return 0
