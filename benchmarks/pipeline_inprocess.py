"""The pipeline alone on the load benchmark's traffic: time per message and snapshot size.

    .venv/bin/python benchmarks/pipeline_inprocess.py                          # 1,000 and 5,000 det/s, 20 s each
    .venv/bin/python benchmarks/pipeline_inprocess.py --rates 1000 --duration 200   # the snapshot after 200 s

No broker, no service: ``benchmarks/load_gen.py`` traffic (100 drones) fed straight into
``Pipeline.handle`` in receipt order, as replay does. Per rate: milliseconds per message
over the second half of the run (mean, p50, p99), live tracks at the end, and the state
snapshot the service would write at that moment: time to build it
(``Pipeline.snapshot``), time to encode it as JSON, and its size. This separates the
pipeline's own cost from the broker, journal and CPU sharing that ``load.py`` measures
as a whole.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load_gen import messages, site_dict  # noqa: E402
from borderwatch.pipeline import Pipeline  # noqa: E402
from borderwatch.progress import Progress  # noqa: E402
from fusion.site import Site  # noqa: E402


def one_rate(rate: int, duration_s: float, sectors: int) -> dict:
    site = Site.model_validate(site_dict(100, sectors))
    msgs = messages(site, 1.8e9, duration_s, max(1, round(rate / 100)))
    pipeline = Pipeline(site)
    progress = Progress(f"{rate} det/s", len(msgs), quiet=False)
    took = []
    for n, m in enumerate(msgs, 1):
        t0 = time.perf_counter()
        pipeline.handle(m.topic, m.payload, m.recv_time)
        took.append(time.perf_counter() - t0)
        progress(n)
    progress(len(msgs), final=True)
    ms = 1000.0 * np.asarray(took[len(took) // 2:])
    t0 = time.perf_counter()
    snap = pipeline.snapshot()
    t1 = time.perf_counter()
    body = json.dumps(snap, separators=(",", ":"))
    t2 = time.perf_counter()
    return {
        "rate_det_s": rate,
        "messages": len(msgs),
        "ms_per_message_mean": round(float(ms.mean()), 2),
        "ms_per_message_p50": round(float(np.median(ms)), 2),
        "ms_per_message_p99": round(float(np.percentile(ms, 99)), 1),
        "live_tracks_at_end": len(pipeline.live_tracks()),
        "snapshot_build_ms": round(1000.0 * (t1 - t0), 1),
        "snapshot_json_ms": round(1000.0 * (t2 - t1), 1),
        "snapshot_mb": round(len(body) / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,5000", help="detections per second, comma-separated")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of traffic per rate")
    ap.add_argument("--sectors", type=int, default=2, help="sectors the 22 km site is cut into")
    args = ap.parse_args(argv)
    rows = [one_rate(int(r), args.duration, args.sectors) for r in args.rates.split(",")]
    print(f"\npipeline in-process ({args.duration:g} s of load_gen traffic, 100 drones, {args.sectors} sectors)")
    width = max(len(k) for k in rows[0])
    for k in rows[0]:
        print(f"  {k:<{width}}  " + "  ".join(f"{str(r[k]):>10}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
