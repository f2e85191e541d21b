"""``borderwatch simulate SCENARIO``: play a scenario to a broker, or write it as a recording.

- ``--record FILE [--truth FILE]``: simulate as fast as possible and write a contract
  recording (JSON Lines, or MCAP when FILE ends in ``.mcap``) and the ground truth
  (default ``FILE`` with ``.truth.json``). No broker.
- ``--broker URL [--speed X]``: publish each message when the service would receive it,
  in real time or X times faster. Times are shifted so the scenario starts one second
  from now (a ``WarpClock`` of that speed started now agrees with the messages). Each sensor has its own MQTT 3.1.1 connection
  with a retained last will ``{"state":"offline"}`` on its status topic, so a killed
  simulator looks like dead sensors. Status messages are published retained.
- ``--schema FILE``: write the JSON Schema of scenario files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt

from adapters.recording import RecordedMessage, write_recording
from adapters.site_file import ConfigError, load_site
from adapters.timefmt import to_iso
from adapters.topics import Topics
from borderwatch.clock import WarpClock
from borderwatch.progress import Progress
from simulators.engine import simulate
from simulators.scenario import load_scenario, scenario_json_schema
from simulators.truth import write_truth



def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a scenario: publish to a broker or write a recording and its truth",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", type=Path, nargs="?", metavar="SCENARIO", help="scenario YAML (configs/scenarios/*.yaml)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--schema", type=Path, metavar="FILE", help="write the JSON Schema of scenario files and exit")
    out.add_argument("--record", type=Path, metavar="FILE", help="write a recording (.jsonl or .mcap), no broker")
    out.add_argument("--broker", metavar="URL", help="publish live, e.g. mqtt://127.0.0.1:1883")
    p.add_argument("--truth", type=Path, metavar="FILE", help="where to write the ground truth (default: beside --record)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X", help="with --broker: X times real time (default 1)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def default_truth_path(recording: Path) -> Path:
    name = recording.name
    for ext in (".jsonl", ".mcap"):
        name = name.removesuffix(ext)
    return recording.with_name(name + ".truth.json")


def run(args: argparse.Namespace) -> int:
    if args.schema:
        args.schema.write_text(json.dumps(scenario_json_schema(), indent=2) + "\n", encoding="utf-8")
        print(args.schema)
        return 0
    if args.scenario is None:
        print("simulate: SCENARIO is required with --record or --broker", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
        site = load_site(scenario.site_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    if args.broker:
        if args.speed <= 0:
            print("--speed must be positive", file=sys.stderr)
            return 2
        clock = WarpClock(speed=args.speed)
        scenario = scenario.model_copy(update={"start": to_iso(clock.start + 1.0)})
    t = time.monotonic()
    try:
        result = simulate(scenario, site)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.quiet:
        print(
            f"simulated {scenario.name}: {scenario.duration_s:.0f} s, {len(result.messages)} messages, "
            f"{len(result.truth.objects)} objects, {len(result.truth.crossings)} crossings in {time.monotonic() - t:.1f} s",
            file=sys.stderr,
        )
    if args.record:
        progress = Progress("recording", len(result.messages), args.quiet)

        def counted() -> object:
            for i, m in enumerate(result.messages):
                progress(i)
                yield m

        n = write_recording(counted(), args.record)
        progress(n, final=True)
        truth_path = args.truth or default_truth_path(args.record)
        write_truth(result.truth, truth_path)
        print(f"{args.record}: {n} messages; truth: {truth_path}")
        return 0
    if args.truth:
        write_truth(result.truth, args.truth)
    sensors = sorted({m.topic.split("/")[-2] for m in result.messages if m.topic.endswith("/status")})
    progress = Progress("publishing", len(result.messages), args.quiet)
    asyncio.run(publish_messages(result.messages, args.broker, clock, sensors, progress))
    return 0


def _connect_args(url: str) -> dict:
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "tcp", ""):
        raise ValueError(f"unsupported broker URL scheme {u.scheme!r} (use mqtt://host:port)")
    return {"hostname": u.hostname or "127.0.0.1", "port": u.port or 1883, "username": u.username, "password": u.password}


async def publish_messages(
    messages: Sequence[RecordedMessage],
    url: str,
    clock: WarpClock,
    status_topics_of: Sequence[str],
    progress: Callable[..., None] | None = None,
    topics: Topics = Topics(),
) -> int:
    """Publish each message at its receipt time on ``clock`` (QoS 1; status topics retained).

    ``status_topics_of`` names the sensors (by the status topic's sensor id) that get their
    own connection with a last will; everything else goes through one shared connection.
    Returns the number published.
    """
    conn = _connect_args(url)
    by_id = {}
    for m in messages:
        parts = m.topic.split("/")
        if m.topic.endswith("/status"):
            by_id[parts[-2]] = m.topic
    wills = {sid: by_id[sid] for sid in status_topics_of if sid in by_id}
    clients = {"": aiomqtt.Client(**conn, protocol=aiomqtt.ProtocolVersion.V311, identifier="bw-sim-shared")}
    for sid, status_topic in wills.items():
        clients[sid] = aiomqtt.Client(
            **conn,
            protocol=aiomqtt.ProtocolVersion.V311,
            identifier=f"bw-sim-{sid}",
            keepalive=10,
            will=aiomqtt.Will(status_topic, b'{"state":"offline"}', qos=1, retain=True),
        )
    n = 0
    for c in clients.values():
        await c.__aenter__()
    try:
        for m in messages:
            delay = clock.wall_delay(m.recv_time)
            if delay > 0:
                await asyncio.sleep(delay)
            parts = m.topic.split("/")
            sensor = parts[-2] if m.topic.startswith(topics.prefix + "/sensors/") else ""
            client = clients.get(sensor, clients[""])
            await client.publish(m.topic, m.payload, qos=1, retain=m.topic.endswith("/status"))
            n += 1
            if progress:
                progress(n, f"sim time {to_iso(m.recv_time)}")
    finally:
        for c in clients.values():
            await c.__aexit__(None, None, None)
    if progress:
        progress(n, final=True)
    return n
