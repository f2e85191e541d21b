"""Alert figures on every shipped scenario: simulate -> Pipeline (as replay does) -> score against truth.

    .venv/bin/python benchmarks/alerting_scenarios.py [SCENARIO.yaml ...] [--details]
    .venv/bin/python benchmarks/alerting_scenarios.py --speed

``--speed`` instead times ``AlertEngine.on_tracks`` (milliseconds per call) for
sectors holding 10 to 1,000 live tracks walking towards the line, on the shipped site,
with every track updated in the step and with only five updated.

Prints one row per scenario: southbound crossings by people and vehicles (outside
ports), how many were alerted before or at most 30 s after the crossing, lead time
(median, 10th percentile) for those alerted ahead, false alerts and false alerts
per simulated hour, and dispatch orders.

Scoring is the project's reference (``borderwatch.score.score_run`` over
``fusion.alert_metrics``): crossing kinds within 300 m of the object at an event
time count, false alerts are target-kind alerts that never come near a person or
vehicle that is not port traffic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from borderwatch.replay import replay_messages  # noqa: E402
from simulators.engine import simulate  # noqa: E402
from simulators.scenario import load_scenario  # noqa: E402
from adapters.site_file import load_site  # noqa: E402
from borderwatch.score import alert_events, score_run, truth_table  # noqa: E402
from fusion.alert_metrics import AlertEvent, TruthTable  # noqa: E402
from simulators.truth import Truth  # noqa: E402


def score(truth: Truth, run_dir: Path) -> dict[str, object]:
    """The project's reference alert figures (``borderwatch score``) for one replay output."""
    report, run, _ = score_run(run_dir, truth)
    m = report.alerts
    first: dict[str, dict] = {}
    for a in run.alerts:
        first.setdefault(a["alert_id"], a)
    by_id = set(m.false_alert_ids)
    tt = truth_table(truth)
    events = {e.alert_id: e for e in reversed(alert_events(run.alerts, truth.site_model())) if e.xy is not None}
    return {
        "threats": m.n_crossings,
        "alerted": m.n_alerted,
        "lead_med": m.lead_median_s,
        "lead_p10": m.lead_p10_s,
        "alerts": len(first),
        "false": len(m.false_alert_ids),
        "false_per_h": m.false_alerts_per_hour,
        "dispatch_new": sum(d.get("state") == "new" for d in run.dispatch),
        "eta_med": m.dispatch_eta_median_s,
        "missed": [(c.object_id, c.cls) for c in m.crossings if not c.alerted],
        "false_list": [(aid, first[aid]["kind"], first[aid]["summary"], "| nearest:", _nearest(tt, events.get(aid)))
                       for aid in sorted(by_id) if aid in first],
    }


def _nearest(tt: TruthTable, event: AlertEvent | None) -> str:
    """The truth object nearest an alert's first positioned event: what a false alert was raised on."""
    if event is None or event.xy is None:
        return "-"
    d = np.linalg.norm(tt.at(np.array([event.time]))[0] - np.asarray(event.xy), axis=1)
    if not np.isfinite(d).any():
        return "nothing present"
    j = int(np.nanargmin(d))
    return f"{tt.ids[j]} ({tt.cls[j]}{', port traffic' if tt.legal[j] else ''}) {d[j]:.0f} m"


def _f(x: float | None, width: int) -> str:
    return f"{x:>{width}.0f}" if x is not None else f"{'-':>{width}}"


def speed_table() -> None:
    """Cost of one alerting step by number of live tracks (synthetic walkers, shipped site).

    ``all updated``: every track had a detection in the step; ``5 updated``: the
    other tracks coast (``TrackReport.updated`` False), as when one sensor's scan
    touches a few targets of a busy sector.
    """

    from fusion.alerting import AlertEngine
    from fusion.types import TrackReport, TrackStatus

    site = load_site(ROOT / "configs" / "site.yaml")
    cp = np.array([0.61, 0.07, 0.14, 0.18])
    steps, warm = 60, 10
    print(f"{'tracks':>6} {'ms/call all updated':>19} {'ms/call 5 updated':>17} {'alerts open':>11}")
    for n in (10, 50, 100, 200, 400, 1000):
        rng = np.random.default_rng(n)
        east = rng.uniform(-10_000, 10_000, n)
        north = rng.uniform(200, 2000, n)
        row, opened = [], 0
        for few in (False, True):
            eng = AlertEngine(site, "west")
            batches = []
            for k in range(steps):
                t = 1_795_000_000.0 + 2.0 * k
                batches.append((t, [TrackReport(f"T-{i:06d}", t, TrackStatus.CONFIRMED,
                                                np.array([east[i], north[i] - 3.0 * k, 0.0, -1.5]),
                                                np.diag([100.0, 100.0, 0.05, 0.05]), 0.99, cp, ("tower-01",), "west",
                                                updated=not few or k < warm or i < 5) for i in range(n)]))
            for t, reps in batches[:warm]:
                eng.on_tracks(t, reps)
            t0 = time.perf_counter()
            for t, reps in batches[warm:]:
                eng.on_tracks(t, reps)
            row.append((time.perf_counter() - t0) / (steps - warm) * 1e3)
            opened = len(eng.open_alerts()) if not few else opened  # alerts of the all-updated run
        print(f"{n:>6} {row[0]:>19.1f} {row[1]:>17.1f} {opened:>11}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", type=Path)
    ap.add_argument("--details", action="store_true", help="list missed crossings and false alerts (with the truth object nearest each)")
    ap.add_argument("--speed", action="store_true", help="time one alerting step by number of tracks instead")
    args = ap.parse_args()
    if args.speed:
        speed_table()
        return 0
    paths = args.scenarios or sorted((ROOT / "configs" / "scenarios").glob("*.yaml"))
    print(f"{'scenario':28} {'xings':>5} {'alerted':>7} {'lead med':>8} {'lead p10':>8} {'alerts':>6} {'false':>5} "
          f"{'false/h':>7} {'orders':>6} {'eta med':>7} {'time s':>6}")
    for path in paths:
        t0 = time.monotonic()
        scenario = load_scenario(path)
        site = load_site(scenario.site_path)
        result = simulate(scenario, site)
        with tempfile.TemporaryDirectory() as tmp:
            replay_messages(result.messages, site, Path(tmp))
            s = score(result.truth, Path(tmp))
        print(f"{scenario.name:28} {s['threats']:>5} {s['alerted']:>7} {_f(s['lead_med'], 8)} {_f(s['lead_p10'], 8)} "
              f"{s['alerts']:>6} {s['false']:>5} {s['false_per_h']:>7.1f} {s['dispatch_new']:>6} {_f(s['eta_med'], 7)} "
              f"{time.monotonic() - t0:>6.1f}", flush=True)
        if args.details:
            for m in s["missed"]:
                print("    missed:", *m)
            for f in s["false_list"]:
                print("    false:", *f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
