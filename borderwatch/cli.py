"""The ``borderwatch`` command line: one subcommand per module in ``borderwatch.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed args, returning an exit code). Modules are imported
only when listed here, so adding a command is one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES: tuple[str, ...] = (
    "schema",
    "simulate",
    "score",
    "console",
    "run",
    "replay",
    "export",
    "record",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="borderwatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"borderwatch.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
