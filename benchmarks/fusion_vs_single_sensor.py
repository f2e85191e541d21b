"""Fusion of tower radar + drone + late K-9 reports against each sensor alone; prints one table.

Seeded border scenario (10 km x 6.5 km about the site origin, 600 s):
  - 12 walkers (groups of 1 to 4) from 0.4 to 1.4 km north of the line heading
    south across it at 1.1 to 1.7 m/s,
    some stopping for a while on the way; 3 vehicles on an east-west road at 12 m/s;
    2 animals wandering at 1 to 4 m/s.
  - tower radar at (0, 2000) m: 2 s scans, range sigma 10 m, bearing sigma 0.5 deg,
    Pd 0.85 but 0.15 in a wood south-west of the tower (walkers hide there), 8
    clutter per scan over its 6 km disc;
  - drone patrolling east-west along the border (+-3 km, 600 s period): 1 s
    frames, 700 m footprint,
    sigma 15 m, Pd 0.85, label right 80% of the time, 0.2 false detections/frame;
  - K-9 team: about every 45 s a report on the nearest object within 2 km of the
    handler, sigma 100 m, observed 30 to 300 s before it is radioed in.
Trackers: ``SectorTracker`` with default settings on one sensor's messages, or on
all of them in order of arrival (K-9 late), or with the K-9 reports at their
observation time (the out-of-sequence reference). Scored every 2 s on confirmed
and coasting tracks (predicted to the scoring time) with GOSPA (c = 100 m, p = 2),
ID switches (CLEAR-MOT within c) and class accuracy (share of matched
truth-track pairs whose class is right).

    .venv/bin/python benchmarks/fusion_vs_single_sensor.py [--seeds 1 2 3] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.geodesy import polar_to_enu  # noqa: E402
from fusion.metrics import IdTracker, gospa  # noqa: E402
from fusion.site import Site  # noqa: E402
from fusion.tracking import SectorTracker, TrackerConfig  # noqa: E402
from fusion.types import CLASSES, Scan, SensorType, TrackStatus  # noqa: E402

T0 = 1_795_000_000.0
DURATION = 600.0
GOSPA_C = 100.0
TOWER_EN = np.array([0.0, 2000.0])
RADAR_RANGE = 6000.0
WOOD = (np.array([-2500.0, -800.0]), np.array([200.0, 1200.0]))  # south-west corner, north-east corner


def make_site() -> Site:
    base = Site.model_validate({
        "site": {"name": "fusion-bench", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-122.9, 49.0], [-122.6, 49.0]]},
                   "protected_side": "south"},
        "sensors": [{"id": "drone-1", "type": "drone"}],
    })
    lat, lon = base.frame.to_geodetic_2d(TOWER_EN[0], TOWER_EN[1])
    return Site.model_validate({
        **base.model_dump(exclude={"sensors"}),
        "sensors": [
            {"id": "tower-1", "type": "radar", "lat": float(lat), "lon": float(lon), "max_range_m": RADAR_RANGE},
            {"id": "drone-1", "type": "drone"},
            {"id": "k9-1", "type": "k9"},
        ],
    })


@dataclass
class Truth:
    times: np.ndarray  # (T,) seconds from T0, 1 s apart
    pos: np.ndarray  # (T, n, 2), NaN when not present
    vel: np.ndarray  # (T, n, 2)
    cls: np.ndarray  # (n,) index into CLASSES
    count: np.ndarray  # (n,)


def simulate_truth(rng: np.random.Generator) -> Truth:
    T = int(DURATION) + 1
    walkers, vehicles, animals = 12, 3, 2
    n = walkers + vehicles + animals
    pos = np.full((T, n, 2), np.nan)
    vel = np.zeros((T, n, 2))
    cls = np.r_[np.zeros(walkers), np.ones(vehicles), np.full(animals, 2)].astype(int)
    count = np.r_[rng.integers(1, 5, walkers), np.ones(vehicles + animals, int)]
    for i in range(walkers):
        start = rng.uniform(0, 200)
        p = np.array([rng.uniform(-3000, 3000), rng.uniform(400, 1400)])
        speed = rng.uniform(1.1, 1.7)
        head = np.pi + rng.normal(0, 0.25)
        stop_at, stop_for = rng.uniform(100, 400), rng.uniform(0, 60) if rng.random() < 0.5 else 0.0
        for k in range(T):
            if k < start:
                continue
            stopped = stop_at <= k - start < stop_at + stop_for
            head += rng.normal(0, 0.02)
            v = np.zeros(2) if stopped else speed * np.array([np.sin(head), np.cos(head)])
            pos[k, i], vel[k, i] = p, v
            p = p + v
    for j in range(vehicles):
        i = walkers + j
        x, d = rng.uniform(-4000, 4000), rng.choice([-1.0, 1.0])
        for k in range(T):
            pos[k, i] = [x, 1500.0 + 5 * np.sin(x / 300)]
            vel[k, i] = [12.0 * d, 0.0]
            x += 12.0 * d
            if abs(x) > 4800:
                d = -d
    for j in range(animals):
        i = walkers + vehicles + j
        p = rng.uniform([-3000, -1000], [3000, 3000])
        v = np.zeros(2)
        for k in range(T):
            v = 0.9 * v + rng.normal(0, 0.5, 2)
            v *= min(1.0, 4.0 / max(np.hypot(*v), 1e-9))
            pos[k, i], vel[k, i] = p, v
            p = p + v
    return Truth(np.arange(T, dtype=float), pos, vel, cls, count)


def _in_wood(p: np.ndarray) -> np.ndarray:
    return np.all((p >= WOOD[0]) & (p <= WOOD[1]), axis=-1)


def radar_scans(site: Site, truth: Truth, rng: np.random.Generator) -> list[Scan]:
    spec = site.sensor_by_id["tower-1"]
    tower = site.frame.to_enu(spec.lat, spec.lon, 0.0)
    gamma = float(site.frame.grid_rotation_rad(spec.lat, spec.lon))
    out = []
    for k in range(0, len(truth.times), 2):
        p = truth.pos[k]
        ok = ~np.isnan(p[:, 0])
        pd = np.where(_in_wood(np.nan_to_num(p, nan=1e9)), 0.15, 0.85)
        seen = p[ok & (rng.random(len(p)) < pd)]
        nc = rng.poisson(8)
        ang, rad = rng.uniform(0, 2 * np.pi, nc), RADAR_RANGE * np.sqrt(rng.uniform(0, 1, nc))
        pts = np.concatenate([seen, tower[:2] + np.c_[rad * np.sin(ang), rad * np.cos(ang)]])
        d = pts - tower[:2]
        m = len(pts)
        rng_m = np.hypot(d[:, 0], d[:, 1]) + rng.normal(0, 10.0, m)
        brg = (np.degrees(np.arctan2(d[:, 0], d[:, 1]) - gamma) + rng.normal(0, 0.5, m)) % 360.0
        z, R = polar_to_enu(site.frame, spec.lat, spec.lon, rng_m, brg, np.full(m, 10.0), np.full(m, 0.5))
        t = T0 + truth.times[k]
        out.append(Scan(
            time=t, sensor_id="tower-1", sensor_type=SensorType.RADAR, seq=k, sensor_enu=tower,
            z=z.reshape(m, 2), R=R.reshape(m, 2, 2), det_time=np.full(m, t), class_probs=np.full((m, 4), 0.25),
            count=np.ones(m, np.int64), polar=np.c_[rng_m, np.radians(brg)].reshape(m, 2),
            polar_sigma=np.tile([10.0, np.radians(0.5)], (m, 1)), radial_speed_mps=np.full(m, np.nan),
            snr_db=np.full(m, np.nan), recv_time=t + 0.2))
    return out


def drone_scans(truth: Truth, rng: np.random.Generator) -> list[Scan]:
    out = []
    for k in range(len(truth.times)):
        t = truth.times[k]
        dp = np.array([3000.0 * np.sin(2 * np.pi * t / 600.0), 100.0])  # east-west patrol along the line
        p = truth.pos[k]
        ok = ~np.isnan(p[:, 0])
        inside = ok & (np.hypot(*(np.nan_to_num(p, nan=1e9) - dp).T) < 700.0) & (rng.random(len(p)) < 0.85)
        idx = np.flatnonzero(inside)
        z = p[idx] + rng.normal(0, 15.0, (idx.size, 2))
        labels = truth.cls[idx].copy()
        wrong = rng.random(idx.size) > 0.8
        labels[wrong] = rng.integers(0, 4, wrong.sum())
        nf = rng.poisson(0.2)
        ang, rad = rng.uniform(0, 2 * np.pi, nf), 700.0 * np.sqrt(rng.uniform(0, 1, nf))
        z = np.concatenate([z, dp + np.c_[rad * np.sin(ang), rad * np.cos(ang)]])
        labels = np.r_[labels, rng.integers(0, 4, nf)].astype(int)
        m = len(z)
        cp = np.full((m, 4), 0.2 / 3)
        cp[np.arange(m), labels] = 0.8
        cnt = np.r_[truth.count[idx], np.ones(nf, int)].astype(np.int64)
        tt = T0 + t
        out.append(Scan(time=tt, sensor_id="drone-1", sensor_type=SensorType.DRONE, seq=k,
                        sensor_enu=np.r_[dp, 120.0], z=z.reshape(m, 2), R=np.tile(225.0 * np.eye(2), (m, 1, 1)),
                        det_time=np.full(m, tt), class_probs=cp, count=cnt, recv_time=tt + 0.3))
    return out


def k9_reports(truth: Truth, rng: np.random.Generator) -> list[Scan]:
    """K-9 reports as they arrive (``time`` = radio time, ``det_time`` = when the sign was fresh)."""
    out = []
    t = 60.0
    seq = 0
    while t < DURATION:
        handler = np.array([-1500.0 + 3.0 * t, 200.0])
        k = int(t)
        p = truth.pos[k]
        d = np.hypot(*(np.nan_to_num(p, nan=1e9) - handler).T)
        i = int(np.argmin(d))
        if d[i] < 2000.0:
            delay = rng.uniform(30.0, 300.0)
            obs = T0 + t
            v = truth.vel[k, i]
            z = p[i] + rng.normal(0, 80.0, 2)
            seq += 1
            out.append(Scan(time=obs + delay, sensor_id="k9-1", sensor_type=SensorType.K9, seq=seq,
                            sensor_enu=np.r_[handler, 0.0], z=z[None], R=(100.0**2 * np.eye(2))[None],
                            det_time=np.array([obs]), class_probs=np.full((1, 4), 0.25),
                            count=np.array([truth.count[i]], np.int64),
                            narcotics=np.array([False]), heading_rad=np.array([np.arctan2(v[0], v[1])]),
                            notes=("",), recv_time=obs + delay))
        t += rng.uniform(30.0, 60.0)
    return out


def run(site: Site, truth: Truth, msgs: list[Scan], cfg: TrackerConfig) -> dict:
    """Feed messages in arrival order; score every 2 s on what the tracker knows by then."""
    trk = SectorTracker("bench", site, cfg)
    msgs = sorted(msgs, key=lambda s: (s.time, s.sensor_id))
    ids = IdTracker()
    g_tot, g_loc, g_miss, g_false, cls_ok, cls_n = [], [], [], [], 0, 0
    j = 0
    for k in range(0, len(truth.times), 2):
        now = T0 + truth.times[k]
        while j < len(msgs) and msgs[j].time <= now:
            trk.step(msgs[j])
            j += 1
        trk.advance(now)
        reps = [r for r in trk.reports() if r.status in (TrackStatus.CONFIRMED, TrackStatus.COASTING)]
        est = np.array([r.x[:2] + r.x[2:] * (now - r.time) for r in reps]).reshape(-1, 2)
        p = truth.pos[k]
        ok = np.flatnonzero(~np.isnan(p[:, 0]))
        g = gospa(p[ok], est, c=GOSPA_C)
        g_tot.append(g.total)
        g_loc.append(g.localisation)
        g_miss.append(g.missed)
        g_false.append(g.false)
        ids.update_positions(list(ok), p[ok], [r.track_id for r in reps], est, gate=GOSPA_C)
        for a, b in g.assignment:
            cls_n += 1
            cls_ok += int(CLASSES.index(reps[b].class_name) == truth.cls[ok[a]])
    return {"gospa": float(np.mean(g_tot)), "loc": float(np.mean(g_loc)), "missed": float(np.mean(g_miss)),
            "false": float(np.mean(g_false)), "idsw": ids.switches,
            "class_acc": cls_ok / cls_n if cls_n else float("nan")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--quick", action="store_true", help="one seed")
    a = ap.parse_args()
    seeds = a.seeds[:1] if a.quick else a.seeds
    site = make_site()
    cfg = TrackerConfig()
    runs: dict[str, list[dict]] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        truth = simulate_truth(rng)
        radar, drone, k9 = radar_scans(site, truth, rng), drone_scans(truth, rng), k9_reports(truth, rng)
        k9_in_order = [replace(s, time=float(s.det_time[0])) for s in k9]
        cases = {
            "radar only": radar,
            "drone only": drone,
            "K-9 only (late)": k9,
            "radar + drone": radar + drone,
            "radar + drone + K-9 (late, 30-300 s)": radar + drone + k9,
            "radar + drone + K-9 (in time order)": radar + drone + k9_in_order,
        }
        for name, msgs in cases.items():
            runs.setdefault(name, []).append(run(site, truth, msgs, cfg))
    print(f"seeds {seeds}, {DURATION:.0f} s, scored every 2 s, GOSPA c={GOSPA_C:.0f} m p=2 (parts in m^2), means over seeds")
    head = f"| {'sensors':<38} | {'GOSPA m':>8} | {'loc m2':>8} | {'missed m2':>9} | {'false m2':>9} | {'ID sw':>5} | {'class ok':>8} |"
    print(head)
    print("|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|")
    for name, rs in runs.items():
        m = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        print(f"| {name:<38} | {m['gospa']:>8.1f} | {m['loc']:>8.0f} | {m['missed']:>9.0f} | {m['false']:>9.0f} | "
              f"{m['idsw']:>5.1f} | {m['class_acc']:>8.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
