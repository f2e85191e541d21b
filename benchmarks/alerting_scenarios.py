"""Alert figures on every shipped scenario: simulate -> Pipeline (as replay does) -> score against truth.

    .venv/bin/python benchmarks/alerting_scenarios.py [SCENARIO.yaml ...] [--details]

Prints one row per scenario: southbound crossings by people and vehicles (outside
ports), how many were alerted before or at most 30 s after the crossing, lead time
(median, 10th percentile) for those alerted ahead, false alerts and false alerts
per simulated hour, and dispatch orders.

Scoring here is self-contained (an alert is matched to the truth object nearest
its first position at its first time, within ``MATCH_M``), so the alert engine can
be tuned without the score command; ``fusion.alert_metrics`` (``borderwatch
score``) is the project's reference scoring and may match differently.
"""

from __future__ import annotations

import argparse
import json
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
from simulators.truth import Truth  # noqa: E402
from adapters.site_file import load_site  # noqa: E402
from adapters.timefmt import from_iso  # noqa: E402

MATCH_M = 150.0  # an alert belongs to the truth object within this distance of where it says it is
AFTER_S = 30.0  # a crossing counts as alerted if the alert came at most this long after it
CROSSING_KINDS = ("predicted_crossing", "crossing", "incursion")


def truth_position(truth: Truth, t: float) -> tuple[list[str], np.ndarray]:
    grid = truth.start + round((t - truth.start) / truth.dt_s) * truth.dt_s
    return truth.positions_at(grid)


def score(truth: Truth, run_dir: Path) -> dict[str, object]:
    site = truth.site_model()
    alerts = [json.loads(line)["payload"] for line in (run_dir / "alerts.jsonl").read_text().splitlines()]
    dispatch = [json.loads(line)["payload"] for line in (run_dir / "dispatch.jsonl").read_text().splitlines()]
    objects = truth.object_by_id()
    first: dict[str, dict] = {}
    for a in alerts:
        first.setdefault(a["alert_id"], a)
    # Which truth object each alert was about (by its first position; track ids are the tracker's, not truth's).
    owner: dict[str, str | None] = {}
    for aid, a in first.items():
        if a.get("lat") is None:
            owner[aid] = None
            continue
        ids, xy = truth_position(truth, from_iso(a["time"]))
        if not ids:
            owner[aid] = None
            continue
        p = site.frame.to_enu(a["lat"], a["lon"])[:2]
        d = np.linalg.norm(xy - p, axis=1)
        owner[aid] = ids[int(np.argmin(d))] if d.min() <= MATCH_M else None
    threats = [c for c in truth.crossings if c.into_protected and not c.legal and c.cls in ("person", "vehicle")]
    leads, alerted = [], 0
    for c in threats:
        times = [from_iso(first[aid]["time"]) for aid in first
                 if owner[aid] == c.object_id and first[aid]["kind"] in CROSSING_KINDS]
        ok = [t for t in times if t <= c.time + AFTER_S]
        if ok:
            alerted += 1
            leads.append(c.time - min(ok))
    false = []
    for aid, a in first.items():
        if a["kind"] == "sensor_offline":
            continue
        obj = objects.get(owner[aid]) if owner[aid] else None
        if obj is None or obj.cls == "animal" or obj.legal:
            false.append(a)
        elif a["kind"] in CROSSING_KINDS and not any(c.object_id == obj.id and c.into_protected for c in truth.crossings):
            false.append(a)
    hours = truth.duration_s / 3600.0
    lead = np.asarray(leads)
    return {
        "threats": len(threats),
        "alerted": alerted,
        "lead_med": float(np.median(lead)) if lead.size else float("nan"),
        "lead_p10": float(np.percentile(lead, 10)) if lead.size else float("nan"),
        "alerts": len(first),
        "false": len(false),
        "false_per_h": len(false) / hours,
        "dispatch_new": sum(d["state"] == "new" for d in dispatch),
        "false_list": [(a["alert_id"], a["kind"], a["summary"], owner[a["alert_id"]]) for a in false],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", type=Path)
    ap.add_argument("--details", action="store_true", help="list the false alerts")
    args = ap.parse_args()
    paths = args.scenarios or sorted((ROOT / "configs" / "scenarios").glob("*.yaml"))
    print(f"{'scenario':30} {'xings':>5} {'alerted':>7} {'lead med':>8} {'lead p10':>8} {'alerts':>6} {'false':>5} {'false/h':>7} {'disp':>4} {'time s':>6}")
    for path in paths:
        t0 = time.monotonic()
        scenario = load_scenario(path)
        site = load_site(scenario.site_path)
        result = simulate(scenario, site)
        with tempfile.TemporaryDirectory() as tmp:
            replay_messages(result.messages, site, Path(tmp))
            s = score(result.truth, Path(tmp))
        print(f"{scenario.name:30} {s['threats']:>5} {s['alerted']:>7} {s['lead_med']:>8.0f} {s['lead_p10']:>8.0f} "
              f"{s['alerts']:>6} {s['false']:>5} {s['false_per_h']:>7.1f} {s['dispatch_new']:>4} {time.monotonic() - t0:>6.1f}")
        if args.details:
            for f in s["false_list"]:
                print("    false:", *f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
