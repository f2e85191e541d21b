"""Patrol drone model: a camera footprint moving along a route, geo-located and labelled detections.

Every ``report_period_s`` the drone reports (also when it saw nothing) what lies within
``footprint_radius_m`` of the ground point below it: each object independently with
probability ``pd``, its position plus isotropic Gaussian noise ``sigma_m``, a class
drawn from the confusion row of its true class, a confidence, and a head count (a
group is one object to a camera at altitude). ``platform`` is the drone's position at
the report time.
"""

from __future__ import annotations

import numpy as np

from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.site import Site
from simulators.motion import Motion, patrol_knots
from simulators.outgoing import Outgoing, in_windows, recv_times
from simulators.scenario import DroneModel

REPORTED = ("person", "vehicle", "animal", "unknown")


def simulate_drone(
    model: DroneModel,
    site: Site,
    motion: Motion,
    start: float,
    duration_s: float,
    offline: list[tuple[float, float]],
    rng: np.random.Generator,
    topics: Topics,
) -> list[Outgoing]:
    """All detection messages of one drone over its time on station."""
    end = duration_s if model.end_s is None else min(model.end_s, duration_s)
    t = np.arange(model.start_s, end, model.report_period_s)
    t = t[~in_windows(t, offline)]
    path = patrol_knots(site, model.route, model.loop, model.speed_mps, model.start_s, max(end, model.start_s + 1.0))
    plat = path.at(t)  # (S, 2)
    obj = motion.object_positions(t)  # (S, N, 2)
    n_obj = obj.shape[1]
    dist = np.linalg.norm(obj - plat[:, None, :], axis=-1) if n_obj else np.zeros((t.size, 0))
    seen = (np.nan_to_num(dist, nan=np.inf) <= model.footprint_radius_m) & (rng.random(dist.shape) < model.pd)
    s_idx, o_idx = np.nonzero(seen)
    n = s_idx.size
    pos = obj[s_idx, o_idx] + model.sigma_m * rng.standard_normal((n, 2))
    # per object once, then indexed per detection
    obj_cls = np.array([REPORTED.index(o.cls) for o in motion.objects], dtype=np.int64)
    obj_count = np.array([o.count for o in motion.objects], dtype=np.int64)
    confusion = np.array(
        [[getattr(model.confusion[c], r) for r in REPORTED] if c in model.confusion else [0, 0, 0, 1] for c in REPORTED]
    )  # (true class, reported class); an unknown true class stays unknown
    true_idx = obj_cls[o_idx] if n else np.zeros(0, dtype=np.int64)
    rows = confusion[true_idx]
    label = np.minimum((rng.random(n)[:, None] > np.cumsum(rows, axis=1)).sum(axis=1), 3)
    right = label == true_idx
    conf = np.where(right, 0.6 + 0.35 * rng.random(n), 0.35 + 0.3 * rng.random(n))
    true_count = obj_count[o_idx] if n else np.zeros(0, dtype=np.int64)
    off_by = np.where(rng.random(n) < model.count_accuracy, 0, rng.choice([-1, 1], size=n))
    count = np.maximum(1, true_count + off_by)
    lat, lon = site.frame.to_geodetic_2d(pos[:, 0], pos[:, 1]) if n else (np.zeros(0), np.zeros(0))
    plat_lat, plat_lon = site.frame.to_geodetic_2d(plat[:, 0], plat[:, 1]) if t.size else (np.zeros(0), np.zeros(0))
    bounds = np.searchsorted(s_idx, np.arange(t.size + 1))

    obs = start + t
    recv = recv_times(obs, model.latency_s, rng)
    topic = topics.detections("drone", model.id)
    out = []
    for k in range(t.size):
        dets = [
            {
                "lat": round(float(lat[i]), 7),
                "lon": round(float(lon[i]), 7),
                "sigma_m": float(model.sigma_m),
                "class": REPORTED[int(label[i])],
                "confidence": round(float(conf[i]), 2),
                "count": int(count[i]),
            }
            for i in range(bounds[k], bounds[k + 1])
        ]
        payload = {
            "sensor_id": model.id,
            "seq": k,
            "time": to_iso(obs[k]),
            "platform": {"lat": round(float(plat_lat[k]), 7), "lon": round(float(plat_lon[k]), 7), "alt_m": float(model.alt_m)},
            "detections": dets,
        }
        out.append(Outgoing(float(recv[k]), float(obs[k]), topic, payload, model.id))
    return out
