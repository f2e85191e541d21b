"""``borderwatch replay RECORDING --site FILE --out DIR``: a recording through the live code path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.recording import read_recording
from adapters.site_file import ConfigError, load_site
from borderwatch.progress import Progress
from borderwatch.replay import print_summary, replay_messages


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="feed a recording through the service's pipeline and write what it would publish")
    p.add_argument("recording", type=Path, help="recording (.jsonl or .mcap) made by `borderwatch record` or `simulate --record`")
    p.add_argument("--site", type=Path, required=True, help="site file (YAML)")
    p.add_argument("--out", type=Path, required=True, help="output directory for tracks/alerts/dispatch/deadletter.jsonl")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        site = load_site(args.site)
    except ConfigError as exc:
        print(f"borderwatch replay: {exc}", file=sys.stderr)
        return 2
    if not args.recording.exists():
        print(f"borderwatch replay: {args.recording}: no such recording", file=sys.stderr)
        return 2
    messages = list(read_recording(args.recording))
    summary = replay_messages(messages, site, args.out, progress=Progress("replay", len(messages), args.quiet))
    print_summary(summary)
    return 0
