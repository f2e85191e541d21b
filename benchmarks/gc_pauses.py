"""Garbage-collector pauses in the pipeline on load traffic: CPython's defaults beside the service's settings.

    .venv/bin/python benchmarks/gc_pauses.py                    # 5,000 det/s, 20 s of traffic
    .venv/bin/python benchmarks/gc_pauses.py --rate 1000 --duration 60

Per setting, a fresh process feeds ``benchmarks/load_gen.py`` traffic (100 drones, 2
sectors) straight into ``Pipeline.handle`` in receipt order, as ``pipeline_inprocess.py``
does, and times every collection with ``gc.callbacks``: collections per generation,
their total and longest pause, the share of the run they took, and the time per
message (p99 and max over the second half) that the pauses show up in. Settings:
``default`` (CPython's thresholds 700/10/10, nothing frozen), ``freeze`` (start-up
objects frozen only) and ``service`` (``borderwatch.gc_tuning.tune_for_service``:
frozen, generation-0 threshold 10,000), as ``borderwatch run`` applies it after
start-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("default", "freeze", "service")


def one(setting: str, rate: int, duration_s: float) -> dict:
    """Run in this process (a child of main): the pipeline under ``setting``, timed per collection."""
    import gc
    import time

    import numpy as np

    sys.path.insert(0, str(ROOT))
    from benchmarks.load_gen import messages, site_dict
    from borderwatch.gc_tuning import tune_for_service
    from borderwatch.pipeline import Pipeline, PipelineConfig
    from fusion.site import Site

    site = Site.model_validate(site_dict(100))
    msgs = [(m.topic, m.payload, m.recv_time) for m in messages(site, 1.8e9, duration_s, max(1, round(rate / 100)))]
    pipeline = Pipeline(site, PipelineConfig())
    if setting == "freeze":
        gc.collect()
        gc.freeze()
    elif setting == "service":
        tune_for_service()
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    gc.callbacks.append(timer)
    took = []
    t0 = time.perf_counter()
    for topic, payload, recv_time in msgs:
        t = time.perf_counter()
        pipeline.handle(topic, payload, recv_time)
        took.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    gc.callbacks.remove(timer)
    ms = 1000.0 * np.asarray(took[len(took) // 2:])
    all_pauses = [p for ps in pauses.values() for p in ps]
    row: dict[str, object] = {"setting": setting}
    for g, ps in pauses.items():
        row[f"gen{g}_collections"] = len(ps)
    row["gc_total_ms"] = round(1000 * sum(all_pauses))
    row["gc_longest_pause_ms"] = round(1000 * max(all_pauses, default=0.0), 1)
    row["gc_share_of_run"] = f"{sum(all_pauses) / wall:.1%}"
    row["ms_per_message_mean"] = round(float(ms.mean()), 2)
    row["ms_per_message_p99"] = round(float(np.percentile(ms, 99)), 1)
    row["ms_per_message_max"] = round(float(ms.max()), 1)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=5000, help="detections per second")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of traffic")
    ap.add_argument("--one", choices=SETTINGS, help=argparse.SUPPRESS)  # internal: a child run
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.rate, args.duration)))
        return 0
    rows = []
    for setting in SETTINGS:
        print(f"  {setting} ...", file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, __file__, "--one", setting, "--rate", str(args.rate), "--duration", str(args.duration)],
                             check=True, capture_output=True, text=True, cwd=ROOT)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\ngarbage-collector pauses, pipeline in-process ({args.rate} det/s, {args.duration:g} s of load_gen traffic)")
    for key in rows[0]:
        print(f"  {key:<26}" + "".join(f"{str(r[key]):>12}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
