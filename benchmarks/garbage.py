"""Garbage benchmark: 100,000 malformed messages mixed into live traffic.

    .venv/bin/python benchmarks/garbage.py           # 100,000 malformed over a 240 s incident (~420/s)
    .venv/bin/python benchmarks/garbage.py --quick   # 10,000 over 40 s

A mosquitto of its own, ``borderwatch run`` as a child process (``--keep-journal``,
tracks at QoS 1), the incident of ``benchmarks/faults.py`` played in real time, and
malformed messages of every dead-letter class (``benchmarks/garbage_gen.py``: bad
JSON, NaN, not UTF-8, nesting 200 deep, schema violations, unknown sensor, a tower
posing as another, missing platform, impossible times, positions 10,000 km away,
unknown team, 300 KiB payloads) spread evenly over the run from a second client.

Figures:
- dead-lettered: the service's dead-letter counters (sum over reasons) and the dead
  letters a console received on ``bw/v1/deadletter``, against the number sent;
  per-class counts must match exactly;
- track output identical to the clean run: the journal (every message the service
  took, with the clock ticks it applied) is replayed twice through fresh pipelines,
  once whole and once with the malformed messages left out (their ticks kept: the
  clean traffic with the very same timing); the track messages must be
  byte-identical, and the console must have received exactly those;
- memory: the service's RSS, sampled every 0.5 s, from the end of the first 5 s of
  traffic (imports and caches warm) to the maximum.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.journal import Journal  # noqa: E402
from adapters.recording import RecordedMessage  # noqa: E402
from adapters.site_file import load_site  # noqa: E402
from benchmarks.faults import incident  # noqa: E402
from benchmarks.garbage_gen import garbage  # noqa: E402
from benchmarks.harness import Broker, Console, Player, ServiceProcess, metric_value, time_shift  # noqa: E402
from borderwatch.pipeline import Pipeline, PipelineConfig  # noqa: E402
from simulators.engine import simulate  # noqa: E402


def _is_garbage(payload: bytes) -> bool:
    return payload.startswith((b'{"g":', b'["g",'))  # every generated malformed payload starts so; clean traffic never does


def replay_tracks(state_dir: Path, site, skip_garbage: bool) -> list[bytes]:  # noqa: ANN001 - Site
    j = Journal(state_dir / "journal.sqlite")
    p = Pipeline(site, PipelineConfig(track_qos=1))
    tracks: list[bytes] = []
    for rec in j.inbound_after(0):
        for t in rec.pre_ticks:
            tracks += [o.payload for o in p.tick(t) if o.kind == "track"]
        if rec.topic is not None and not (skip_garbage and _is_garbage(rec.payload)):
            tracks += [o.payload for o in p.handle(rec.topic, rec.payload, rec.recv_time) if o.kind == "track"]
    j.close()
    return tracks


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bw-garbage-"))
    scenario = incident(args.duration)
    site = load_site(scenario.site_path)
    clean = simulate(scenario, site).messages
    broker = Broker(work / "broker")
    broker.start()
    state = work / "state"
    svc = ServiceProcess(scenario.site_path, broker.url, state, "--keep-journal", "--track-qos", "1", log=work / "service.log")
    svc.start()
    svc.wait_healthy()
    clean = time_shift(clean, time.time() + 1.0 - clean[0].recv_time)
    start, end = clean[0].recv_time, clean[-1].recv_time
    items = list(garbage(args.count, site, start))
    # spread over the run, starting after the first clean message (which starts the pipeline's clock)
    span = (end - start) - 2.0
    bad = [RecordedMessage(start + 1.0 + span * i / len(items), g.topic, g.payload) for i, g in enumerate(items)]
    rss: list[tuple[float, float]] = []

    async def sample_rss(stop: asyncio.Event) -> None:
        while not stop.is_set():
            rss.append((time.time(), svc.rss_mb()))
            await asyncio.sleep(0.5)

    async def main() -> tuple[Console, str]:
        console = Console(broker.url, client_id="bench-console-garbage")
        console_task = asyncio.create_task(console.run())
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(stop))
        await asyncio.sleep(0.3)
        good_player = Player(broker.url, client_id="bench-sensors")
        bad_player = Player(broker.url, client_id="bench-garbage", window=200)
        await asyncio.gather(good_player.play(clean), bad_player.play(bad))
        # wait for the service to work off its backlog: every dead letter counted, or the counter still for 10 s
        last, still = -1.0, 0
        while still < 20 and last < len(items):
            await asyncio.sleep(0.5)
            n = sum(metric_value(svc.metrics(), "borderwatch_deadletters_total", f'reason="{c}"') for c in set(g.code for g in items))
            still = still + 1 if n == last else 0
            last = n
        stop.set()
        await sampler
        metrics = svc.metrics()
        await asyncio.to_thread(svc.stop)  # before the console leaves: it sees everything the service published
        await asyncio.sleep(1.0)
        console_task.cancel()
        await asyncio.gather(console_task, return_exceptions=True)
        return console, metrics

    console, metrics = asyncio.run(main())
    broker.stop()

    expected = Counter(g.code for g in items)
    counted = {c: int(metric_value(metrics, "borderwatch_deadletters_total", f'reason="{c}"')) for c in expected}
    received = Counter(json.loads(p)["code"] for _, topic, p in console.received if topic.endswith("/deadletter") and p)
    shed = int(metric_value(metrics, "borderwatch_shed_total", 'queue="deadletter"'))
    with_garbage = replay_tracks(state, site, skip_garbage=False)
    without = replay_tracks(state, site, skip_garbage=True)
    live_tracks = [p for _, topic, p in console.received if "/tracks/" in topic]
    coalesced = int(metric_value(metrics, "borderwatch_tracks_coalesced_total"))
    warm = [m for t, m in rss if t >= start + 5.0]
    result = {
        "clean_messages": len(clean),
        "malformed_sent": len(items),
        "malformed_rate_per_s": round(len(items) / span, 1),
        "deadletter_counters_total": sum(counted.values()),
        "deadletter_counters_match_per_class": counted == dict(expected),
        "deadletters_received_by_console": sum(received.values()),
        "deadletters_shed_by_queue_policy": shed,
        "track_messages_clean_replay": len(without),
        "track_output_identical_to_clean": with_garbage == without,
        "console_track_messages": len(live_tracks),
        "tracks_coalesced_by_queue_policy": coalesced,
        # every pipeline track message reached the console, or was replaced in the queue by a newer state of its track
        "console_tracks_account_for_pipeline_output": set(live_tracks) <= set(with_garbage) and len(live_tracks) + coalesced == len(with_garbage),
        "rss_warm_mb": round(warm[0], 1) if warm else None,
        "rss_max_mb": round(max(warm), 1) if warm else None,
        "rss_growth_mb": round(max(warm) - warm[0], 1) if warm else None,
        "wall_s": round(time.time() - start, 1),
    }
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        result["workdir"] = str(work)
        (work / "console_tracks.jsonl").write_bytes(b"\n".join(live_tracks))
        (work / "pipeline_tracks.jsonl").write_bytes(b"\n".join(with_garbage))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 malformed over 40 s")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=240.0, help="incident length, s (real time)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.count, args.duration = 10_000, 40.0
    r = run(args)
    width = max(len(k) for k in r)
    print("\ngarbage benchmark")
    for k, v in r.items():
        print(f"  {k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
