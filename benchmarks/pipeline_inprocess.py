"""The pipeline alone on the load benchmark's traffic: time per message and snapshot size.

    .venv/bin/python benchmarks/pipeline_inprocess.py                          # 1,000 and 5,000 det/s, 20 s each
    .venv/bin/python benchmarks/pipeline_inprocess.py --rates 1000 --duration 200   # the snapshot after 200 s
    .venv/bin/python benchmarks/pipeline_inprocess.py --rates 5000 --stages        # where a message's time goes
    .venv/bin/python benchmarks/pipeline_inprocess.py --rates 5000 --duration 80 --late-k9 60   # a K-9 report a minute late

No broker, no service: ``benchmarks/load_gen.py`` traffic (100 drones) fed straight into
``Pipeline.handle`` in receipt order, as replay does. Per rate: milliseconds per message
over the second half of the run (mean, p50, p99), live tracks at the end, and the state
snapshot the service would write at that moment: time to build it
(``Pipeline.snapshot``), time to encode it as JSON, and its size. This separates the
pipeline's own cost from the broker, journal and CPU sharing that ``load.py`` measures
as a whole. ``--stages`` adds the time per message of each stage (tracker steps, alerting
calls, track messages (payload bytes), JSON encoding of the other messages, validation,
sector routing), timed around those calls,
and how many alerting calls 1,000 messages cost (``--batch-period 0``: one per scan part).
``--late-scan`` delivers one message three quarters into the run 0.25 s late (after later
scans went to the tracker) and reports the time to handle it: the tracker's out-of-sequence
re-run, a stall of the whole service while it lasts. ``--late-k9 S`` adds a K-9 team to the
site (after the 100 drones) and, three quarters into the run, one report of it whose
detection was observed S seconds earlier (the contract allows up to 10 minutes): the time to
handle it is the exact re-run of about S seconds of every drone's steps.
The last two rows are the machine's speed just before the run (``harness.machine_reference``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.recording import RecordedMessage  # noqa: E402
from adapters.timefmt import to_iso  # noqa: E402
from adapters.topics import Topics  # noqa: E402
from benchmarks.harness import machine_reference  # noqa: E402
from benchmarks.load_gen import messages, site_dict  # noqa: E402
from borderwatch import pipeline as pipeline_module  # noqa: E402
from borderwatch.pipeline import Pipeline, PipelineConfig  # noqa: E402
from borderwatch.progress import Progress  # noqa: E402
from fusion.site import Site  # noqa: E402


#: The K-9 team ``--late-k9`` adds to the site (after the drones: sensor 100, the mask's second word).
K9_ID = "k9-bench"


class StageClock:
    """Seconds spent inside wrapped callables and their calls, by stage name (while ``on``)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.on = False
        self._wrapped: list[tuple[object, str, object]] = []

    def unwrap(self) -> None:
        """Put the wrapped callables back (module-level ones are shared by the next rate's pipeline)."""
        for owner, attr, fn in reversed(self._wrapped):
            setattr(owner, attr, fn)

    def wrap(self, owner: object, attr: str, stage: str) -> None:
        fn = getattr(owner, attr)
        self._wrapped.append((owner, attr, fn))

        def timed(*args: object, **kw: object) -> object:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                if self.on:
                    self.seconds[stage] += time.perf_counter() - t0
                    self.calls[stage] += 1

        setattr(owner, attr, timed)


def _clock_stages(pipeline: Pipeline) -> StageClock:
    """Time the pipeline's stages: per-sector tracker and alerting objects, and the module-level helpers it calls."""
    clock = StageClock()
    for sector in pipeline.sectors:
        clock.wrap(pipeline.trackers[sector], "step", "tracker step")
        clock.wrap(pipeline.alerting[sector], "on_tracks", "alerting")
    clock.wrap(pipeline_module.wire_out, "track_bodies", "track messages")
    clock.wrap(pipeline_module, "canonical_json", "JSON encoding")
    clock.wrap(pipeline_module, "parse_inbound", "validation")
    clock.wrap(pipeline, "_route", "sector routing")
    return clock


def _one_late(msgs: list[RecordedMessage], late_s: float) -> tuple[list[RecordedMessage], int]:
    """The traffic with the message three quarters in received ``late_s`` later; its new index."""
    k = 3 * len(msgs) // 4
    late = replace(msgs[k], recv_time=msgs[k].recv_time + late_s)
    rest = msgs[:k] + msgs[k + 1:]
    at = next(i for i in range(k, len(rest)) if rest[i].recv_time > late.recv_time)
    return rest[:at] + [late] + rest[at:], at


def _with_late_k9(msgs: list[RecordedMessage], age_s: float) -> tuple[list[RecordedMessage], int]:
    """The traffic with one K-9 report three quarters in, its detection observed ``age_s`` earlier; its index."""
    k = 3 * len(msgs) // 4
    recv = msgs[k].recv_time
    body = {"sensor_id": K9_ID, "seq": 1, "time": to_iso(recv - 0.05), "platform": {"lat": 49.006, "lon": -122.75},
            "detections": [{"lat": 49.004, "lon": -122.75, "sigma_m": 80.0, "observed_time": to_iso(recv - age_s),
                            "narcotics": True, "count": 2}]}
    report = RecordedMessage(recv, Topics().detections("k9", K9_ID), json.dumps(body).encode())
    return msgs[:k] + [report] + msgs[k:], k


def one_rate(rate: int, duration_s: float, sectors: int, config: PipelineConfig, stages: bool = False,
             late_scan: bool = False, late_k9_s: float | None = None) -> dict:
    speed = machine_reference()
    doc = site_dict(100, sectors)
    if late_k9_s is not None:
        doc["sensors"].append({"id": K9_ID, "type": "k9"})
    site = Site.model_validate(doc)
    msgs = messages(site, 1.8e9, duration_s, max(1, round(rate / 100)))
    late_at = k9_at = -1
    if late_scan:
        msgs, late_at = _one_late(msgs, 0.25)
    if late_k9_s is not None:
        msgs, k9_at = _with_late_k9(msgs, late_k9_s)
    pipeline = Pipeline(site, config)
    clock = _clock_stages(pipeline) if stages else None
    progress = Progress(f"{rate} det/s", len(msgs), quiet=False)
    took = []
    for n, m in enumerate(msgs, 1):
        if clock is not None and n == len(msgs) // 2 + 1:
            clock.on = True  # the second half, as the per-message figures
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
    row = {
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
    if late_scan:
        row["late_scan_handle_ms"] = round(1000.0 * took[late_at], 1)
        row["oosm_reruns"] = pipeline.all_counters()["tracker.oosm_rerun"]
    if late_k9_s is not None:
        row["late_k9_age_s"] = late_k9_s
        row["late_k9_handle_ms"] = round(1000.0 * took[k9_at], 1)
    if clock is not None:
        clock.unwrap()
        half = len(msgs) - len(msgs) // 2
        for stage in ("tracker step", "alerting", "track messages", "JSON encoding", "validation", "sector routing"):
            row[f"ms_per_message_{stage.replace(' ', '_')}"] = round(1000.0 * clock.seconds[stage] / half, 2)
        row["alerting_calls_per_1000_messages"] = round(1000 * clock.calls["alerting"] / half)
    return row | speed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,5000", help="detections per second, comma-separated")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of traffic per rate")
    ap.add_argument("--sectors", type=int, default=2, help="sectors the 22 km site is cut into")
    ap.add_argument("--stages", action="store_true", help="also the time per message of each stage")
    ap.add_argument("--batch-period", type=float, default=None, help="the pipeline's batch period, s (default: its own)")
    ap.add_argument("--late-scan", action="store_true", help="one message 0.25 s late: the time to handle it")
    ap.add_argument("--late-k9", type=float, default=None, metavar="S",
                    help="one K-9 report whose detection was observed S s earlier: the time to handle it")
    args = ap.parse_args(argv)
    config = PipelineConfig() if args.batch_period is None else PipelineConfig(batch_period_s=args.batch_period)
    rows = [one_rate(int(r), args.duration, args.sectors, config, args.stages, args.late_scan, args.late_k9)
            for r in args.rates.split(",")]
    print(f"\npipeline in-process ({args.duration:g} s of load_gen traffic, 100 drones, {args.sectors} sectors, "
          f"batch period {config.batch_period_s:g} s)")
    width = max(len(k) for k in rows[0])
    for k in rows[0]:
        print(f"  {k:<{width}}  " + "  ".join(f"{str(r[k]):>10}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
