"""Borderwatch's tracker against Stone Soup 1.9 on the same seeded 2-D scenarios; prints one table.

Scenario (issue 4): 20 km x 10 km, 300 scans at 1 s, N targets alive throughout
(70% walkers ~1.5 m/s, 30% vehicles ~15 m/s; each target dies with probability
1/200 per second or when it leaves the area and is replaced by a new one at a
random place, so N stays steady; 1% per second a target turns by up to 90 deg),
position measurements sigma = 10 m, Pd = 0.9, Poisson clutter with mean 20 per
scan (density 1e-7 per m^2).

Trackers, each in its own process (peak memory = its RSS growth):
  borderwatch-gnn / borderwatch-jpda: ``SectorTracker`` (IMM, existence, GNN or JPDA);
    output = ``management.reportable``: confirmed or coasting tracks with existence >= 0.5.
  stonesoup-gnn: GNNWith2DAssignment + DistanceHypothesiser (Mahalanobis, missed 3);
  stonesoup-kdgnn: DetectionKDTreeGNN2D (KD-tree pre-gate, 100 m);
  stonesoup-jpda-ehm: JPDAwithEHM + PDAHypothesiser (Pd 0.9, true clutter density),
    MultiTargetMixtureTracker;
  all Stone Soup trackers: CV model q = 0.5 m^2/s^3, Kalman predictor/updater,
  MultiMeasurementInitiator (2 points, velocity prior sigma 15 m/s, GNN),
  UpdateTimeStepsDeleter(3), as in the Stone Soup tutorials;
  oracle (reference, not a tracker): told which detection is which target's, it
  shows a target from its second detection until two scans after its last, the
  GOSPA-optimal causal decision here: one detection among 20 clutter points is a
  new target with probability ~0.03, and after one or two misses an object is
  still more likely there than gone (Pd 0.9, deaths 1/200 per s), after three it
  is not; positions are the truth blurred by a steady-state Kalman filter's error.
  Its GOSPA is what births, deaths and ideal filtering alone cost: a floor.

Metrics per scan, averaged: GOSPA (c = 100 m, p = 2, alpha = 2) and its parts
(localisation, missed, false, in m^2 before the root), ID switches (CLEAR-MOT
sticky matching within c), wall ms per scan (median, p99), CPU ms per scan
(median; less disturbed when the machine is shared) and peak memory. A Stone
Soup run that exceeds --budget-s seconds stops and is reported from the scans it
finished (column ``scans``).

    .venv/bin/python benchmarks/tracker_vs_stonesoup.py            # full table (~40 min on 2 shared cores)
    .venv/bin/python benchmarks/tracker_vs_stonesoup.py --quick    # 60 scans, N = 10 and 100
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.metrics import IdTracker, gospa  # noqa: E402

AREA = (20_000.0, 10_000.0)
SIGMA = 10.0
PD = 0.9
CLUTTER_MEAN = 20.0
CLUTTER_DENSITY = CLUTTER_MEAN / (AREA[0] * AREA[1])
GOSPA_C = 100.0
T0 = 1_795_000_000.0


@dataclass
class Frame:
    time: float
    truth_ids: np.ndarray  # (n,)
    truth_xy: np.ndarray  # (n, 2)
    z: np.ndarray  # (m, 2) detections then clutter
    z_ids: np.ndarray  # (m,) truth id of each row of z, -1 for clutter (oracle only)
    truth_vehicle: np.ndarray  # (n,) bool (oracle only)


def scenario(n: int, scans: int, seed: int) -> list[Frame]:
    """Seeded truth and measurements (module docstring), vectorised over targets."""
    rng = np.random.default_rng(seed)
    half = np.array(AREA) / 2

    def spawn(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = rng.uniform(-half, half, (k, 2))
        vehicle = rng.random(k) < 0.3
        speed = np.where(vehicle, rng.normal(15.0, 3.0, k), rng.normal(1.5, 0.3, k)).clip(0.3)
        head = rng.uniform(0, 2 * np.pi, k)
        return pos, np.c_[speed * np.sin(head), speed * np.cos(head)], vehicle

    pos, vel, veh = spawn(n)
    ids = np.arange(n)
    next_id = n
    frames = []
    for k in range(scans):
        if k:
            q = np.where(veh, 0.2, 0.02)[:, None]
            vel = vel + rng.normal(0, 1, (n, 2)) * np.sqrt(q)
            turn = rng.random(n) < 0.01
            ang = rng.uniform(-np.pi / 2, np.pi / 2, n) * turn
            c, s = np.cos(ang), np.sin(ang)
            vel = np.c_[c * vel[:, 0] + s * vel[:, 1], -s * vel[:, 0] + c * vel[:, 1]]
            pos = pos + vel
            dead = (rng.random(n) < 1 / 200) | np.any(np.abs(pos) > half, axis=1)
            if dead.any():
                p2, v2, h2 = spawn(int(dead.sum()))
                pos[dead], vel[dead], veh[dead] = p2, v2, h2
                ids = ids.copy()
                ids[dead] = np.arange(next_id, next_id + dead.sum())
                next_id += int(dead.sum())
        seen = rng.random(n) < PD
        z = pos[seen] + rng.normal(0, SIGMA, (int(seen.sum()), 2))
        clutter = rng.uniform(-half, half, (rng.poisson(CLUTTER_MEAN), 2))
        z_ids = np.r_[ids[seen], np.full(clutter.shape[0], -1)]
        frames.append(Frame(T0 + k, ids.copy(), pos.copy(), np.concatenate([z, clutter]), z_ids, veh.copy()))
    return frames


# ---------------------------------------------------------------------- trackers
def borderwatch_runner(association: str):
    from fusion.site import Site
    from fusion.tracking import SectorTracker, TrackerConfig
    from fusion.tracking.management import reportable
    from fusion.types import CLASSES, Scan, SensorType

    site = Site.model_validate({
        "site": {"name": "bench", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-123.0, 49.0], [-122.5, 49.0]]},
                   "protected_side": "south"},
        "sensors": [{"id": "sensor", "type": "radar", "lat": 49.0, "lon": -122.75, "max_range_m": 11_500.0,
                     "clutter_density_per_m2": CLUTTER_DENSITY}],
    })
    trk = SectorTracker("bench", site, TrackerConfig(association=association))
    R1 = SIGMA**2 * np.eye(2)
    seq = [0]

    def step(f: Frame) -> tuple[list[str], np.ndarray]:
        m = f.z.shape[0]
        seq[0] += 1
        scan = Scan(time=f.time, sensor_id="sensor", sensor_type=SensorType.RADAR, seq=seq[0],
                    sensor_enu=np.zeros(3), z=f.z, R=np.broadcast_to(R1, (m, 2, 2)),
                    det_time=np.full(m, f.time), class_probs=np.full((m, len(CLASSES)), 0.25),
                    count=np.ones(m, np.int64))
        reps = trk.step(scan)
        keep = [r for r in reps if reportable(r, trk.config)]
        return [r.track_id for r in keep], np.array([r.x[:2] for r in keep]).reshape(-1, 2)

    return step


def oracle_runner():
    """Reference (module docstring): true association, true positions blurred by steady-state Kalman errors.

    Arrays indexed by truth id, grown as ids appear. A shown target is at its true
    position plus N(0, P_ss), P_ss the steady-state Kalman covariance of a CV filter
    with the scenario's velocity noise (walker or vehicle) and sigma = 10 m: better
    than any real filter, which pays for unknown velocities after a birth and for
    turns. A target that died is shown, dead-reckoned, until its two misses pass.
    """
    from scipy.linalg import solve_discrete_are

    # one axis of scenario(): v += N(0, q), then p += v, with q 0.02 (walker) / 0.2 (vehicle) m^2/s^2
    F1, H = np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[1.0, 0.0]])
    prior = np.array([solve_discrete_are(F1.T, H.T, q * np.ones((2, 2)), np.eye(1) * SIGMA**2)[0, 0]
                      for q in (0.02, 0.2)])
    sd = np.sqrt(prior * SIGMA**2 / (prior + SIGMA**2))  # steady-state posterior position sigma per axis
    rng = np.random.default_rng(0)
    pos, vel = np.zeros((0, 2)), np.zeros((0, 2))
    veh = np.zeros(0, np.int64)
    hits, last = np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = [0]

    def step(f: Frame) -> tuple[list[str], np.ndarray]:
        nonlocal pos, vel, veh, hits, last
        need = int(max(f.truth_ids.max(initial=-1), f.z_ids.max(initial=-1))) + 1
        if need > hits.size:
            grow = need - hits.size
            pos, vel = np.r_[pos, np.zeros((grow, 2))], np.r_[vel, np.zeros((grow, 2))]
            veh, hits, last = (np.r_[veh, np.zeros(grow, np.int64)], np.r_[hits, np.zeros(grow, np.int64)],
                               np.r_[last, np.full(grow, -99, np.int64)])
        alive = np.zeros(hits.size, bool)
        alive[f.truth_ids] = True
        pos[~alive] += vel[~alive]  # dead: dead-reckoned
        vel[f.truth_ids] = f.truth_xy - pos[f.truth_ids]
        pos[f.truth_ids] = f.truth_xy
        veh[f.truth_ids] = f.truth_vehicle
        ids = f.z_ids[f.z_ids >= 0]
        hits[ids] += 1
        last[ids] = k[0]
        show = np.flatnonzero((hits >= 2) & (k[0] - last <= 2))
        k[0] += 1
        err = rng.normal(0.0, 1.0, (show.size, 2)) * sd[veh[show]][:, None]
        return [str(i) for i in show], pos[show] + np.where(alive[show, None], err, 0.0)

    return step


def stonesoup_runner(kind: str):
    import datetime as dt

    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.dataassociator.probability import JPDAwithEHM
    from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.hypothesiser.probability import PDAHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetMixtureTracker, MultiTargetTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(0.5), ConstantVelocity(0.5)])
    mm = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.diag([SIGMA**2, SIGMA**2]))
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(mm)
    dist_hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=3)
    init_assoc = GNNWith2DAssignment(dist_hyp)
    initiator = MultiMeasurementInitiator(
        prior_state=GaussianState(np.zeros((4, 1)), np.diag([0.0, 15.0**2, 0.0, 15.0**2])),
        measurement_model=mm, deleter=UpdateTimeStepsDeleter(2), data_associator=init_assoc,
        updater=updater, min_points=2)
    deleter = UpdateTimeStepsDeleter(3)
    feed: list = []

    class Feeder:
        def __iter__(self):
            while feed:
                yield feed.pop(0)

    if kind == "gnn":
        tracker = MultiTargetTracker(initiator=initiator, deleter=deleter, detector=Feeder(),
                                     data_associator=GNNWith2DAssignment(dist_hyp), updater=updater)
    elif kind == "kdgnn":
        assoc = DetectionKDTreeGNN2D(hypothesiser=dist_hyp, predictor=predictor, updater=updater, max_distance=100.0)
        tracker = MultiTargetTracker(initiator=initiator, deleter=deleter, detector=Feeder(),
                                     data_associator=assoc, updater=updater)
    else:
        pda_hyp = PDAHypothesiser(predictor=predictor, updater=updater, clutter_spatial_density=CLUTTER_DENSITY,
                                  prob_detect=PD)
        tracker = MultiTargetMixtureTracker(initiator=initiator, deleter=deleter, detector=Feeder(),
                                            data_associator=JPDAwithEHM(pda_hyp), updater=updater)
    it = iter(tracker)

    def step(f: Frame) -> tuple[list[str], np.ndarray]:
        ts = dt.datetime.fromtimestamp(f.time, tz=dt.timezone.utc).replace(tzinfo=None)
        feed.append((ts, {Detection(np.array([[x], [y]]), timestamp=ts, measurement_model=mm) for x, y in f.z}))
        _, tracks = next(it)
        live = [t for t in tracks if t.state.timestamp == ts]
        return [t.id for t in live], np.array([[t.state_vector[0, 0], t.state_vector[2, 0]] for t in live]).reshape(-1, 2)

    return step


def run_one(tracker: str, n: int, scans: int, seed: int, budget_s: float) -> dict:
    frames = scenario(n, scans, seed)
    if tracker == "oracle":
        step = oracle_runner()
    elif tracker.startswith("borderwatch"):
        step = borderwatch_runner(tracker.split("-")[1])
    else:
        step = stonesoup_runner(tracker.split("-", 1)[1].replace("-ehm", ""))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ids = IdTracker()
    g_tot, g_loc, g_miss, g_false, ms, cpu = [], [], [], [], [], []
    started = time.perf_counter()
    for f in frames:
        t0, c0 = time.perf_counter(), time.process_time()
        track_ids, est = step(f)
        ms.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
        g = gospa(f.truth_xy, est, c=GOSPA_C, p=2.0)
        g_tot.append(g.total)
        g_loc.append(g.localisation)
        g_miss.append(g.missed)
        g_false.append(g.false)
        ids.update_positions(list(f.truth_ids), f.truth_xy, track_ids, est, gate=GOSPA_C)
        if time.perf_counter() - started > budget_s:
            break
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"tracker": tracker, "n": n, "scans": len(ms), "gospa": float(np.mean(g_tot)),
            "loc": float(np.mean(g_loc)), "missed": float(np.mean(g_miss)), "false": float(np.mean(g_false)),
            "id_switches": ids.switches, "ms_median": float(np.median(ms)), "ms_p99": float(np.percentile(ms, 99)),
            "cpu_ms_median": float(np.median(cpu)),
            "peak_mb": max(0.0, (peak - base) / 1024.0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 scans, N = 10 and 100, 20 s Stone Soup budget")
    ap.add_argument("--n", type=int, nargs="*", help="target counts (default 10 100 1000)")
    ap.add_argument("--scans", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=None, help="wall-time cap per Stone Soup run")
    ap.add_argument("--trackers", nargs="*", default=["oracle", "borderwatch-gnn", "borderwatch-jpda", "stonesoup-gnn",
                                                        "stonesoup-kdgnn", "stonesoup-jpda-ehm"])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(run_one(**json.loads(a.worker))))
        return 0
    ns = a.n or ([10, 100] if a.quick else [10, 100, 1000])
    scans = a.scans or (60 if a.quick else 300)
    budget = a.budget_s or (20.0 if a.quick else 300.0)
    rows = []
    for n in ns:
        for tr in a.trackers:
            b = budget if tr.startswith("stonesoup") else 1e9
            job = json.dumps({"tracker": tr, "n": n, "scans": scans, "seed": a.seed, "budget_s": b})
            res = subprocess.run([sys.executable, __file__, "--worker", job], capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                continue
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(f"  done {tr} N={n}", file=sys.stderr, flush=True)
    from importlib.metadata import PackageNotFoundError, version
    try:
        ss = version("stonesoup")
    except PackageNotFoundError:
        ss = "not installed"
    print(f"Stone Soup {ss}; seed {a.seed}, {scans} scans, GOSPA c={GOSPA_C:.0f} m p=2 (parts in m^2), Pd {PD}, sigma {SIGMA} m, "
          f"{CLUTTER_MEAN:.0f} clutter/scan")
    head = f"| {'tracker':<20} | {'N':>5} | {'scans':>5} | {'GOSPA m':>8} | {'loc m2':>9} | {'missed m2':>10} | " \
           f"{'false m2':>9} | {'ID sw':>6} | {'ms med':>8} | {'ms p99':>8} | {'cpu ms':>8} | {'peak MB':>7} |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for r in rows:
        print(f"| {r['tracker']:<20} | {r['n']:>5} | {r['scans']:>5} | {r['gospa']:>8.1f} | {r['loc']:>9.0f} | "
              f"{r['missed']:>10.0f} | {r['false']:>9.0f} | {r['id_switches']:>6} | {r['ms_median']:>8.2f} | "
              f"{r['ms_p99']:>8.2f} | {r['cpu_ms_median']:>8.2f} | {r['peak_mb']:>7.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
