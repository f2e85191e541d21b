"""K-9 team model: the dog finds fresh trails near the handler; the handler radios in later.

At each second t the dog finds the trail of a person object if the handler is within
``detect_radius_m`` of a point the object passed in [t - freshness_s, t]; each trail
is found at most once and reported with probability ``pd``. The report (sent
``delay_s`` later, uniform) gives the trail point nearest the handler plus Gaussian
noise ``sigma_m``, ``observed_time`` = when the object was there, head count, heading
of travel and ``narcotics`` if the object carries them. ``platform`` is the handler's
position when the report is sent. Vectorised over time with a sliding window per trail.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.site import Site
from simulators.motion import Motion, patrol_knots
from simulators.outgoing import Outgoing, in_windows, recv_times
from simulators.scenario import K9Model


def simulate_k9(
    model: K9Model,
    site: Site,
    motion: Motion,
    start: float,
    duration_s: float,
    offline: list[tuple[float, float]],
    rng: np.random.Generator,
    topics: Topics,
) -> list[Outgoing]:
    """All report messages of one K-9 team (one message per found trail)."""
    end = duration_s if model.end_s is None else min(model.end_s, duration_s)
    grid = np.arange(0.0, np.floor(duration_s) + 1.0)
    handler = patrol_knots(site, model.route, model.loop, model.speed_mps, model.start_s, max(end, model.start_s + 1.0))
    h = handler.at(grid)  # (T, 2), NaN off duty
    h[grid > end] = np.nan
    obj = motion.object_positions(grid)
    window = int(model.freshness_s)
    reports = []  # (send time s, trail index, object index)
    for j, o in enumerate(motion.objects):
        if o.cls != "person":
            continue
        trail = np.vstack([np.full((window, 2), np.nan), obj[:, j]])
        views = sliding_window_view(trail, window + 1, axis=0)  # (T, 2, window+1): trail over [t-window, t]
        dist = np.hypot(views[:, 0, :] - h[:, 0:1], views[:, 1, :] - h[:, 1:2])
        near = np.nan_to_num(dist, nan=np.inf) <= model.detect_radius_m
        hits = np.flatnonzero(near.any(axis=1))
        if hits.size == 0 or rng.random() >= model.pd:
            continue
        i = int(hits[0])
        tau = i - window + int(np.argmin(np.nan_to_num(dist[i], nan=np.inf)))
        send = grid[i] + model.delay_s[0] + rng.random() * (model.delay_s[1] - model.delay_s[0])
        reports.append((float(send), tau, j))
    reports.sort()
    reports = [r for r in reports if r[0] < end and not in_windows(np.array([r[0]]), offline)[0]]
    if not reports:
        return []
    send = np.array([r[0] for r in reports])
    tau = np.array([r[1] for r in reports])
    js = np.array([r[2] for r in reports])
    point = obj[tau, js]
    noisy = point + model.sigma_m * rng.standard_normal(point.shape)
    lat, lon = site.frame.to_geodetic_2d(noisy[:, 0], noisy[:, 1])
    step = obj[np.minimum(tau + 1, grid.size - 1), js] - obj[np.maximum(tau - 1, 0), js]
    heading = np.degrees(np.arctan2(step[:, 0], step[:, 1])) % 360.0
    plat = handler.at(send)
    plat_lat, plat_lon = site.frame.to_geodetic_2d(plat[:, 0], plat[:, 1])
    obs = start + send
    recv = recv_times(obs, model.latency_s, rng)
    topic = topics.detections("k9", model.id)
    out = []
    for k in range(send.size):
        o = motion.objects[int(js[k])]
        det: dict[str, object] = {
            "lat": round(float(lat[k]), 7),
            "lon": round(float(lon[k]), 7),
            "sigma_m": float(model.sigma_m),
            "observed_time": to_iso(start + float(tau[k])),
            "count": int(o.count),
        }
        if np.isfinite(heading[k]) and np.hypot(*step[k]) > 0.5:
            det["heading_deg"] = round(float(heading[k]), 1) % 360.0
        det["narcotics"] = bool(o.narcotics)
        det["note"] = "fresh trail, dog indicated" + (" narcotics" if o.narcotics else "")
        payload = {
            "sensor_id": model.id,
            "seq": k,
            "time": to_iso(obs[k]),
            "platform": {"lat": round(float(plat_lat[k]), 7), "lon": round(float(plat_lon[k]), 7), "alt_m": 0.0},
            "detections": [det],
        }
        out.append(Outgoing(float(recv[k]), float(obs[k]), topic, payload, model.id))
    return out
