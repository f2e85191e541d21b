"""``borderwatch run``: the live service against a broker, until SIGTERM or Ctrl-C.

    borderwatch run --site configs/site.yaml --broker mqtts://broker:8883 --state-dir /var/lib/borderwatch \\
        --tls-ca ca.crt --username borderwatch --password-file /run/secrets/mqtt --metrics-port 9108

The password comes from ``--password-file`` (first line) or the environment variable
``BORDERWATCH_MQTT_PASSWORD``; never from the command line, where ``ps`` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.mqtt_session import TlsSettings, parse_broker_url
from adapters.site_file import ConfigError, load_site
from borderwatch.observability import setup_json_logging

if TYPE_CHECKING:
    from borderwatch.service import ServiceConfig
    from fusion.site import Site

PASSWORD_ENV = "BORDERWATCH_MQTT_PASSWORD"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the live service against an MQTT broker")
    p.add_argument("--site", type=Path, required=True, help="site file (YAML)")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)")
    p.add_argument("--state-dir", type=Path, help="journal and snapshots (crash recovery); without it state is in memory only")
    p.add_argument("--client-id", default="borderwatch", help="MQTT client id; the broker keeps the session under it")
    p.add_argument("--metrics-port", type=int, help="serve /metrics and /healthz on this port (0: any free port)")
    p.add_argument("--metrics-host", default="127.0.0.1")
    p.add_argument("--tls-ca", type=Path, help="CA bundle that signed the broker's certificate (implies TLS)")
    p.add_argument("--tls-cert", type=Path, help="client certificate (PEM), if the broker asks for one")
    p.add_argument("--tls-key", type=Path, help="client private key (PEM)")
    p.add_argument("--username")
    p.add_argument("--password-file", type=Path, help=f"file whose first line is the password (else ${PASSWORD_ENV})")
    p.add_argument("--snapshot-interval", type=float, default=2.0, metavar="S", help="seconds between state snapshots")
    p.add_argument("--reorder-latency", type=float, metavar="S", help="reorder buffer latency, seconds (default: the pipeline's)")
    p.add_argument("--batch-period", type=float, metavar="S",
                   help="scans leaving the reorder buffer within this period are alerted on together, seconds; 0: each on its own "
                        "(default: the pipeline's)")
    p.add_argument("--track-qos", type=int, choices=(0, 1), help="QoS of track messages (default: the pipeline's)")
    p.add_argument("--keep-journal", action="store_true", help="never prune the inbound journal (audit trail; grows without bound)")
    p.add_argument("--durable-fsync", action="store_true",
                   help="fsync the journal on every message: survive power loss of the host, not only a crash (slower)")
    p.add_argument("--cot", metavar="URL", help="also send dispatch orders and hostile tracks as Cursor-on-Target to udp://HOST:PORT or tcp://HOST:PORT")
    p.add_argument("--default-gc", action="store_true",
                   help="keep CPython's garbage-collector settings (default: freeze the start-up heap, collect young objects less often; see borderwatch/gc_tuning.py)")
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=run)


def _fail(msg: str) -> int:
    print(f"borderwatch run: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        site = load_site(args.site)
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        address = parse_broker_url(args.broker)
    except ValueError as exc:
        return _fail(str(exc))
    for name in ("tls_ca", "tls_cert", "tls_key", "password_file"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            return _fail(f"--{name.replace('_', '-')} {path}: no such file")
    if (args.tls_cert is None) != (args.tls_key is None):
        return _fail("--tls-cert and --tls-key go together")
    password = None
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    if password is not None and args.username is None:
        return _fail("a password was given but no --username")
    tls = None
    if address.tls or args.tls_ca or args.tls_cert:
        if not address.tls:
            return _fail(f"TLS options given but {args.broker} is not an mqtts:// URL")
        tls = TlsSettings(
            ca_file=str(args.tls_ca) if args.tls_ca else None,
            cert_file=str(args.tls_cert) if args.tls_cert else None,
            key_file=str(args.tls_key) if args.tls_key else None,
        )
    if args.cot:
        from borderwatch.cot_output import parse_cot_url

        try:
            parse_cot_url(args.cot)
        except ValueError as exc:
            return _fail(str(exc))
    from borderwatch.pipeline import PipelineConfig  # the service's modules load only when it runs
    from borderwatch.service import ServiceConfig

    setup_json_logging(args.log_level.upper())
    overrides = {"reorder_latency_s": args.reorder_latency, "batch_period_s": args.batch_period, "track_qos": args.track_qos}
    config = ServiceConfig(
        pipeline=PipelineConfig(**{k: v for k, v in overrides.items() if v is not None}),
        client_id=args.client_id,
        state_dir=args.state_dir,
        snapshot_interval_s=args.snapshot_interval,
        keep_journal=args.keep_journal,
        durable_fsync=args.durable_fsync,
        tls=tls,
        username=args.username,
        password=password,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        tune_gc=not args.default_gc,
    )
    logging.getLogger("borderwatch").info(
        "starting", extra={"site": site.site.name, "broker": args.broker, "state_dir": str(args.state_dir) if args.state_dir else None}
    )
    return asyncio.run(_main(site, args.broker, config, args.cot))


async def _main(site: Site, broker: str, config: ServiceConfig, cot_url: str | None = None) -> int:
    from borderwatch.service import RecoveryError, run_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cot = None
    if cot_url:
        from borderwatch.cot_output import CotForwarder

        cot = CotForwarder(cot_url)
    try:
        await run_service(site, broker, config=config, stop=stop, on_outbound=cot)
    except RecoveryError as exc:
        logging.getLogger("borderwatch").error("cannot recover state", extra={"error": str(exc)})
        print(f"borderwatch run: {exc}", file=sys.stderr)
        return 3
    finally:
        if cot is not None:
            cot.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m borderwatch.commands.run``: the service alone, without importing every other command
    (starts in about half the time of ``borderwatch run``: what a restart after a crash waits for)."""
    parser = argparse.ArgumentParser(prog="borderwatch run")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
