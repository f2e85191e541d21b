"""Load benchmark: detection-to-alert latency through the broker at a given detection rate.

    .venv/bin/python benchmarks/load.py                       # 1,000 and 5,000 det/s, 30 s each
    .venv/bin/python benchmarks/load.py --rates 100,300,1000 --duration 60
    .venv/bin/python benchmarks/load.py --quick               # 200 and 1,000 det/s, 15 s each
    .venv/bin/python benchmarks/load.py --rates 5000 --batch-periods 0,0.05   # per-scan vs batched alerting
    .venv/bin/python benchmarks/load.py --rates 5000 --gc service,default      # tuned vs CPython's collector
    .venv/bin/python benchmarks/load.py --rates 5000 --cpu-hogs 1              # with a CPU-bound process beside it
    .venv/bin/python benchmarks/load.py --plumbing --rates 1000,5000   # the service's own path, no tracker

Per rate: a mosquitto of its own, ``borderwatch run`` as a child process (one core:
the service is one asyncio thread), and ``benchmarks/load_gen.py`` traffic: 100
drones along the line, each reporting ``rate / 100`` detections once a second, a
fifth of them including a walker who crosses the line. A console measures, for every
new alert, its receipt time minus the alert's ``time`` (the observation time of the
detection that raised it): sensor -> broker -> service (reorder buffer, tracker,
alerting, journal) -> broker -> console. The offered traffic stops after
``--duration``; the service then gets ``--drain`` seconds. Reported with it: the
detection rate the service actually processed, the backlog left at the broker, the
pipeline time per message (``borderwatch_tracker_seconds`` summed over message
handling and ticks, divided by the messages processed), and the service's CPU time
per message and share of one core while the traffic is offered: when the service
cannot keep up, latency is queueing, and these say why. ``--batch-periods 0,0.05``
runs each rate once per batch period (scans alerted on one by one, or together
every 50 ms), side by side; ``--gc service,default`` runs it with the service's
garbage-collector settings and with CPython's (``borderwatch run --default-gc``).
``--cpu-hogs 1`` runs a process spinning a Python loop beside each run: the service,
the broker and the traffic share what is left of the two cores, as on a busier or
slower machine. The last two rows time a fixed Python loop and fixed numpy work just
before each run (``harness.machine_reference``, before any hog starts): this VM's speed
moves by a third between hours, and runs compare only at like speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.timefmt import from_iso  # noqa: E402
from benchmarks.harness import Broker, Console, Player, ServiceProcess, machine_reference, metric_value, percentile  # noqa: E402
from benchmarks.load_gen import messages, site_dict  # noqa: E402
from fusion.site import Site  # noqa: E402

N_SENSORS = 100


def one_rate(rate: int, batch_period: str, gc_setting: str, args: argparse.Namespace, work: Path) -> dict:
    speed = machine_reference()  # before the run: the machine's speed, not the run's load
    with cpu_hogs(args.cpu_hogs):
        row = _one_rate(rate, batch_period, gc_setting, args, work)
    return {**row, "cpu_hogs": args.cpu_hogs, **speed}


@contextlib.contextmanager
def cpu_hogs(n: int) -> Iterator[None]:
    """``n`` processes spinning a Python loop for the duration of a run: less CPU for the
    service, the broker and the traffic, as on a busier or slower machine."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _one_rate(rate: int, batch_period: str, gc_setting: str, args: argparse.Namespace, work: Path) -> dict:
    per_sensor = max(1, round(rate / N_SENSORS))
    period_s = per_sensor * N_SENSORS / rate  # below 100 det/s: one detection per message, sent less often
    site_file = work / "site.yaml"
    site_doc = site_dict(N_SENSORS)
    site_file.write_text(yaml.safe_dump(site_doc, sort_keys=False))
    site = Site.model_validate(site_doc)
    broker = Broker(work / f"broker-{rate}-{batch_period}-{gc_setting}")
    broker.start()
    batching = ("--batch-period", batch_period) if batch_period != "default" else ()
    gc_flag = ("--default-gc",) if gc_setting == "default" else ()
    run = f"{rate}-{batch_period}-{gc_setting}"
    svc = ServiceProcess(site_file, broker.url, work / f"state-{run}", "--reorder-latency",
                         str(args.reorder_latency), *batching, *gc_flag, log=work / f"service-{run}.log")
    svc.start()
    svc.wait_healthy()
    start = time.time() + 1.0
    msgs = messages(site, start - 0.05, args.duration, per_sensor, period_s=period_s)
    offered = sum(len(json.loads(m.payload)["detections"]) for m in msgs)

    async def main() -> tuple[Console, dict]:
        console = Console(broker.url, client_id=f"bench-console-load-{rate}", topics=("alerts",))
        console_task = asyncio.create_task(console.run())
        await asyncio.sleep(0.3)
        player = Player(broker.url, client_id=f"bench-load-{rate}", window=2000)
        m0, cpu0 = svc.metrics(), svc.cpu_s()
        await player.play(msgs)
        t_end_offer = time.time()
        m1, cpu1 = svc.metrics(), svc.cpu_s()
        await asyncio.sleep(args.drain)
        m2 = svc.metrics()
        console_task.cancel()
        await asyncio.gather(console_task, return_exceptions=True)
        return console, {"m0": m0, "m1": m1, "m2": m2, "t_end_offer": t_end_offer, "cpu_s": cpu1 - cpu0, "late_publish_s": player.acked[-1][1] - msgs[-1].recv_time}

    console, snap = asyncio.run(main())
    rss = svc.rss_mb()
    svc.stop()
    broker.stop()

    def processed(m: str) -> float:
        return metric_value(m, "borderwatch_pipeline_events_total", 'name="in.detections"')

    lat = []
    for t, a in console.of_kind("alerts"):
        if a.get("state") == "new" and a.get("kind") != "sensor_offline":
            lat.append(t - from_iso(a["time"]))
    msgs_done = processed(snap["m2"])
    msgs_window = processed(snap["m1"]) - processed(snap["m0"])
    pipe_s = metric_value(snap["m2"], "borderwatch_tracker_seconds_sum")
    return {
        "rate_offered_det_s": round(offered / args.duration),
        "batch_period_s": batch_period,
        "gc": gc_setting,
        "detections_per_message": per_sensor,
        "messages_per_s": round(N_SENSORS / period_s),
        "messages_offered": len(msgs),
        "messages_processed_during_offer": int(msgs_window),
        "detections_processed_per_s_during_offer": round(msgs_window * per_sensor / args.duration),
        "messages_left_unprocessed_after_drain": int(len(msgs) - msgs_done),
        "alerts_new_received": len(lat),
        "latency_p50_ms": _ms(percentile(lat, 50)),
        "latency_p95_ms": _ms(percentile(lat, 95)),
        "latency_p99_ms": _ms(percentile(lat, 99)),
        "latency_max_ms": _ms(max(lat)) if lat else None,
        "pipeline_ms_per_message_mean": round(1000 * pipe_s / max(msgs_done, 1), 2),
        "service_cpu_ms_per_message": round(1000 * snap["cpu_s"] / max(msgs_window, 1), 2),
        "service_cpu_share_during_offer": round(snap["cpu_s"] / args.duration, 2),
        "live_tracks_at_end": int(metric_value(snap["m2"], "borderwatch_live_tracks")),
        "service_rss_mb": round(rss, 1),
    }


def plumbing_rate(rate: int, args: argparse.Namespace, work: Path) -> dict:
    """The service's own path at ``rate`` messages/s, without tracker cost: every message names
    an unknown sensor, so it is received, journalled, validated and answered by a dead letter."""
    import re

    from adapters.recording import RecordedMessage
    from adapters.timefmt import to_iso

    site_file = work / "site.yaml"
    site_file.write_text(yaml.safe_dump(site_dict(N_SENSORS), sort_keys=False))
    broker = Broker(work / f"broker-p{rate}")
    broker.start()
    svc = ServiceProcess(site_file, broker.url, work / f"state-p{rate}", log=work / f"service-p{rate}.log")
    svc.start()
    svc.wait_healthy()
    start = time.time() + 1.0
    n = int(rate * args.duration)
    msgs = []
    for i in range(n):
        t = start + i / rate
        sid = f"ghost-{i % N_SENSORS:03d}"
        body = {"sensor_id": sid, "seq": i // N_SENSORS, "time": to_iso(t), "detections": [{"lat": 49.001, "lon": -122.75, "sigma_m": 10.0}]}
        msgs.append(RecordedMessage(t, f"bw/v1/sensors/drone/{sid}/detections", json.dumps(body, separators=(",", ":")).encode()))

    async def main() -> tuple[Console, str, float]:
        console = Console(broker.url, client_id=f"bench-console-plumbing-{rate}")
        console_task = asyncio.create_task(console.run())
        await asyncio.sleep(0.3)
        player = Player(broker.url, client_id=f"bench-plumbing-{rate}", window=2000)
        await player.play(msgs)
        late = player.acked[-1][1] - msgs[-1].recv_time
        await asyncio.sleep(args.drain)
        m = svc.metrics()
        console_task.cancel()
        await asyncio.gather(console_task, return_exceptions=True)
        return console, m, late

    console, m, late = asyncio.run(main())
    svc.stop()
    broker.stop()
    when = re.compile(rb'"time":"([^"]+)"')
    lat, leg_in, leg_out = [], [], []
    for t, topic, payload in console.received:
        if topic.endswith("/deadletter") and payload:
            doc = json.loads(payload)
            found = when.search(doc["payload_excerpt"].encode())
            if found:
                sent = from_iso(found.group(1).decode())
                lat.append(t - sent)
                leg_in.append(from_iso(doc["time"]) - sent)  # the dead letter's time is the service's receipt time
                leg_out.append(t - from_iso(doc["time"]))
    pipe_n = metric_value(m, "borderwatch_tracker_seconds_count")
    pipe_s = metric_value(m, "borderwatch_tracker_seconds_sum")
    return {
        "rate_offered_msg_s": rate,
        "messages_offered": n,
        "dead_letters_counted": int(metric_value(m, "borderwatch_deadletters_total", 'reason="unknown_sensor"')),
        "dead_letters_received": len(lat),
        "dead_letters_shed": int(metric_value(m, "borderwatch_shed_total", 'queue="deadletter"')),
        "publisher_behind_at_end_s": round(late, 2),
        "latency_p50_ms": _ms(percentile(lat, 50)),
        "latency_p95_ms": _ms(percentile(lat, 95)),
        "latency_p99_ms": _ms(percentile(lat, 99)),
        "sensor_to_service_p50_ms": _ms(percentile(leg_in, 50)),
        "service_to_console_p50_ms": _ms(percentile(leg_out, 50)),
        "pipeline_ms_per_message_mean": round(1000 * pipe_s / max(pipe_n, 1), 3),
    }


def _ms(s: float) -> int | None:
    return None if s != s else round(1000 * s)  # NaN: no alert arrived


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,5000", help="detections per second, comma-separated")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of offered traffic per rate")
    ap.add_argument("--drain", type=float, default=10.0, help="seconds the service gets after the traffic stops")
    ap.add_argument("--reorder-latency", type=float, default=0.1, help="the service's reorder buffer latency, s")
    ap.add_argument("--batch-periods", default="default",
                    help="the service's batch period(s), s, comma-separated, each run side by side ('default': the pipeline's)")
    ap.add_argument("--gc", default="service",
                    help="the service's garbage-collector settings, comma-separated, each run side by side: "
                         "'service' (borderwatch run's own) or 'default' (CPython's, --default-gc)")
    ap.add_argument("--cpu-hogs", type=int, default=0, help="processes spinning a CPU-bound loop beside each run (a busier machine)")
    ap.add_argument("--quick", action="store_true", help="200 and 1,000 det/s, 15 s each")
    ap.add_argument("--plumbing", action="store_true", help="messages/s through the service's own path (dead letters), no tracker")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.rates, args.duration, args.drain = "200,1000", 15.0, 5.0
    work = Path(tempfile.mkdtemp(prefix="bw-load-"))
    rows = []
    for rate in (int(r) for r in args.rates.split(",")):
        if args.plumbing:
            print(f"  rate {rate} msg/s ...", file=sys.stderr, flush=True)
            rows.append(plumbing_rate(rate, args, work))
            continue
        for period in args.batch_periods.split(","):
            for gc_setting in args.gc.split(","):
                print(f"  rate {rate} det/s, batch period {period}, gc {gc_setting} ...", file=sys.stderr, flush=True)
                rows.append(one_rate(rate, period, gc_setting, args, work))
    keys = list(rows[0])
    if args.plumbing:
        print("\nplumbing benchmark (sensor -> broker -> service: session, journal, validation -> dead letter -> broker -> console)")
    else:
        print("\nload benchmark (100 drones, one service process, reorder latency %.2f s)" % args.reorder_latency)
    width = max(len(k) for k in keys)
    for k in keys:
        print(f"  {k:<{width}}  " + "  ".join(f"{str(r[k]):>10}" for r in rows))
    if args.keep:
        print(f"  workdir {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
