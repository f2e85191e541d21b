"""``borderwatch schema --out DIR``: write the JSON Schema of every wire message and of the site file."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.schemas import write_schemas


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="write JSON Schemas of the wire messages and the site file",
        description="Write <name>.schema.json for every MQTT message of the contract and site.schema.json.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write (created if missing)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in write_schemas(args.out):
        print(path)
    return 0
