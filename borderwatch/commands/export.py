"""``borderwatch export RUN_DIR --site FILE --out FILE.geojson [--cot FILE.xml]``: a replay's tracks and
alerts as GeoJSON, and optionally its dispatch orders and hostile tracks as Cursor-on-Target events."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from adapters.cot import run_to_cot
from adapters.geojson_export import read_outputs, run_to_geojson
from adapters.site_file import ConfigError, load_site


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a replay output directory's tracks and alerts as a GeoJSON FeatureCollection")
    p.add_argument("run_dir", type=Path, help="directory written by `borderwatch replay` (tracks.jsonl, alerts.jsonl)")
    p.add_argument("--site", type=Path, help="site file (YAML): adds the border and zones to the map")
    p.add_argument("--out", type=Path, required=True, help="output file (.geojson)")
    p.add_argument("--cot", type=Path, help="also write CoT XML events (one per line): dispatch orders and hostile tracks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.run_dir / "tracks.jsonl").exists() and not (args.run_dir / "alerts.jsonl").exists():
        print(f"borderwatch export: {args.run_dir}: no tracks.jsonl or alerts.jsonl (run `borderwatch replay` first)", file=sys.stderr)
        return 2
    try:
        site = load_site(args.site) if args.site else None
    except ConfigError as exc:
        print(f"borderwatch export: {exc}", file=sys.stderr)
        return 2
    fc = run_to_geojson(args.run_dir, site)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fc, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    counts = Counter(f["properties"]["feature_type"] for f in fc["features"])
    print(f"{args.out}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if args.cot:
        events = run_to_cot(*(read_outputs(args.run_dir / f) for f in ("tracks.jsonl", "alerts.jsonl", "dispatch.jsonl")))
        args.cot.write_bytes(b"".join(e + b"\n" for e in events))
        print(f"{args.cot}: {len(events)} CoT events")
    return 0
