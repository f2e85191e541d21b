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


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """All commands for help and errors; only the named one when a command is given.

    Importing one command module, not all, halves ``borderwatch run``'s start-up,
    which is what a restart after a crash waits for.
    """
    parser = argparse.ArgumentParser(
        prog="borderwatch", description="Border-surveillance sensor fusion over MQTT: service, replay, simulators, console."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = [a for a in (argv or [])[:1] if a in COMMAND_MODULES]
    for name in chosen or COMMAND_MODULES:
        importlib.import_module(f"borderwatch.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
