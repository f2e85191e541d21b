"""Sensor models and faults: measured rates match the configuration within statistical tolerance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adapters.ingest import DeadLetter, parse_inbound
from adapters.topics import Topics
from fusion.site import Site
from fusion.types import Scan
from simulators.engine import simulate
from simulators.radar import polar_of
from simulators.scenario import Scenario

SITE = Site.model_validate(
    {
        "site": {"name": "test", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-122.85, 49.0], [-122.65, 49.0]]}, "protected_side": "south"},
        "sensors": [
            {"id": "r1", "type": "radar", "lat": 48.99, "lon": -122.75, "max_range_m": 5000, "scan_period_s": 1},
            {"id": "d1", "type": "drone"},
            {"id": "k1", "type": "k9"},
        ],
        "teams": [{"id": "u1", "kind": "vehicle", "lat": 48.98, "lon": -122.74, "speed_mps": 10}],
    }
)
R1 = SITE.sensor_by_id["r1"]
START = "2026-11-25T00:00:00Z"


def parked(target_id: str, lat: float, lon: float, dwell_s: float, kind: str = "walker", **extra) -> dict:
    """A target standing still at a point for ``dwell_s`` (a dwell with no wander)."""
    return {
        "id": target_id,
        "kind": kind,
        "speed_mps": 1.0,
        "route": [{"lat": lat, "lon": lon, "dwell_s": dwell_s}, {"lat": lat + 1e-5, "lon": lon}],
        **extra,
    }


def scenario(**kw) -> Scenario:
    base = {"name": "t", "site": "site.yaml", "start": START, "duration_s": 1200, "seed": 3}
    return Scenario.model_validate({**base, **kw})


def scans(res, sensor: str) -> list[Scan]:
    out = []
    for m in res.messages:
        if m.topic.endswith(f"/{sensor}/detections"):
            s = parse_inbound(m.topic, m.payload, m.recv_time, SITE, Topics())
            assert not isinstance(s, DeadLetter), s
            out.append(s)
    return out


def radar(**kw) -> dict:
    return {"id": "r1", "type": "radar", "clutter_per_scan": 3.0, **kw}


@pytest.fixture(scope="module")
def pd_run():
    """Two still people: one well inside full-Pd range, one at 80 % of max range (Pd falls
    linearly from 60 % to 50 % of itself at max range: factor 1 - 0.5 * 0.5 = 0.75); one
    vehicle in a terrain-masked sector."""
    sc = scenario(
        sensors=[radar(pd={"person": 0.85, "vehicle": 0.95, "animal": 0.7}, terrain_mask=[{"from_deg": 80, "to_deg": 100, "beyond_m": 500}])],
        targets=[
            parked("near", 49.0, -122.75, 1200),
            parked("far", 48.99 + 4000 / 111_200, -122.75 + 0.01, 1200),
            parked("hidden", 48.99, -122.75 + 2000 / 72_950, 1200, kind="vehicle"),
        ],
    )
    return sc, simulate(sc, SITE)


def _detected_fraction(res, obj_id: str) -> tuple[float, int]:
    obj = res.truth.object_by_id()[obj_id]
    r, _ = polar_of(SITE, R1, obj.enu[:1])
    gate_m = 4.0 * max(7.5, r[0] * np.radians(0.4))  # 4 sigma of the larger axis
    hits, n = 0, 0
    for s in scans(res, "r1"):
        i = int(round(s.time - obj.t_start))
        if 0 <= i < len(obj.enu) - 5:
            n += 1
            hits += bool(s.size and np.min(np.linalg.norm(s.z - obj.enu[i], axis=1)) < gate_m)
    return hits / n, n


def test_measured_pd_matches_configuration(pd_run):
    _, res = pd_run
    rng_far, _ = polar_of(SITE, R1, res.truth.object_by_id()["far"].enu[:1])
    frac = np.clip((rng_far[0] - 3000.0) / 2000.0, 0, 1)
    cases = [("near", 0.85), ("far", 0.85 * (1 - 0.5 * frac)), ("hidden", 0.0)]
    for obj_id, expected in cases:
        measured, n = _detected_fraction(res, obj_id)
        tol = 4 * np.sqrt(max(expected * (1 - expected), 0.01) / n)  # 4 binomial sigmas
        assert abs(measured - expected) < tol, (obj_id, measured, expected, n)


def test_clutter_rate_and_spread_match_configuration(pd_run):
    _, res = pd_run
    truth_xy = np.array([o.enu[0] for o in res.truth.objects])
    counts, ranges = [], []
    for s in scans(res, "r1"):
        far = np.min(np.linalg.norm(s.z[:, None, :] - truth_xy[None], axis=2), axis=1) > 100.0 if s.size else np.zeros(0, bool)
        counts.append(int(far.sum()))
        ranges.extend(s.polar[far, 0].tolist())
    counts = np.array(counts)
    # Poisson: mean 3 per scan, variance equal to the mean
    assert abs(counts.mean() - 3.0) < 4 * np.sqrt(3.0 / counts.size)
    assert 0.8 < counts.var() / counts.mean() < 1.2
    # uniform in area over [50, 5000] m: the fraction inside 2500 m is (2500^2 - 50^2) / (5000^2 - 50^2)
    inside = np.mean(np.array(ranges) < 2500.0)
    assert abs(inside - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(ranges))


def test_radar_noise_matches_reported_sigmas(pd_run):
    _, res = pd_run
    obj = res.truth.object_by_id()["near"]
    r_true, b_true = polar_of(SITE, R1, obj.enu[:1])
    dr, db = [], []
    for s in scans(res, "r1"):
        if s.size:
            d = np.linalg.norm(s.z - obj.enu[0], axis=1)
            k = np.argmin(d)
            if d[k] < 40:
                dr.append(s.polar[k, 0] - r_true[0])
                db.append((np.degrees(s.polar[k, 1]) - b_true[0] + 180.0) % 360.0 - 180.0)
    assert abs(np.std(dr) - 7.5) < 0.1 * 7.5 and abs(np.mean(dr)) < 1.0
    assert abs(np.std(db) - 0.4) < 0.1 * 0.4


def test_clutter_burst_multiplies_the_rate():
    sc = scenario(duration_s=400, sensors=[radar(clutter_per_scan=1.0)], faults=[{"kind": "clutter_burst", "sensor": "r1", "start_s": 100, "end_s": 200, "factor": 10}])
    res = simulate(sc, SITE)
    t0 = sc.start_time
    inside = [s.size for s in scans(res, "r1") if 100 <= s.time - t0 < 200]
    outside = [s.size for s in scans(res, "r1") if not 100 <= s.time - t0 < 200]
    assert abs(np.mean(inside) - 10.0) < 4 * np.sqrt(10 / len(inside))
    assert abs(np.mean(outside) - 1.0) < 4 * np.sqrt(1 / len(outside))


def test_offline_delay_duplicate_reorder_faults():
    sc = scenario(
        duration_s=600,
        sensors=[radar(clutter_per_scan=0.5)],
        faults=[
            {"kind": "offline", "sensor": "r1", "start_s": 100, "end_s": 200, "will_delay_s": 15},
            {"kind": "delay", "sensor": "r1", "start_s": 300, "end_s": 350, "extra_latency_s": 5},
            {"kind": "duplicate", "sensor": "r1", "start_s": 400, "end_s": 600, "probability": 0.2},
            {"kind": "reorder", "sensor": "r1", "start_s": 400, "end_s": 600, "probability": 0.2, "hold_s": 3},
        ],
    )
    res = simulate(sc, SITE)
    t0 = sc.start_time
    det = [(m.recv_time, json.loads(m.payload)) for m in res.messages if m.topic.endswith("r1/detections")]
    obs = np.array([Scan_time(p) - t0 for _, p in det])
    assert not np.any((obs >= 100) & (obs < 200))  # silent while offline
    seqs = [p["seq"] for _, p in det]
    unique = sorted(set(seqs))
    assert unique == list(range(len(unique)))  # seq continues across the outage
    status = [(m.recv_time - t0, json.loads(m.payload)) for m in res.messages if m.topic.endswith("r1/status")]
    assert [p["state"] for _, p in status] == ["online", "offline", "online"]
    assert 115 <= status[1][0] < 116 and status[1][1] == {"state": "offline"}  # the will, no time
    lat = np.array([r - t0 for r, _ in det]) - obs
    assert np.all(lat[(obs >= 300) & (obs < 350)] > 5.0) and np.all(lat[obs < 100] < 0.2)
    late = obs >= 400
    dup_frac = 1 - len(set(np.array(seqs)[late])) / late.sum()
    assert 0.1 < dup_frac < 0.25  # duplicates are 0.2 / 1.2 of messages in the window
    overtaken = np.sum(np.diff(obs[late]) < 0)
    assert overtaken > 10  # held-back messages arrive after later scans


def Scan_time(payload: dict) -> float:
    from adapters.timefmt import from_iso

    return from_iso(payload["time"])


def test_drone_footprint_noise_and_class_confusion():
    # the drone hovers over a still person and a still animal 100 m apart
    hover = [{"lat": 49.003, "lon": -122.75}]
    sc = scenario(
        duration_s=2000,
        sensors=[radar(), {"id": "d1", "type": "drone", "route": hover, "report_period_s": 1.0, "pd": 0.9, "sigma_m": 10.0}],
        targets=[parked("p", 49.003, -122.75, 2000), {"id": "a", "kind": "wildlife", "area": {"lat": 49.003, "lon": -122.75 + 100 / 72_950, "radius_m": 1.0}, "pause_s": 1e7}, parked("out", 49.01, -122.75, 2000)],
    )
    res = simulate(sc, SITE)
    objs = res.truth.object_by_id()
    labels = {"p": [], "a-01": [], "out": []}
    err = []
    for m in res.messages:
        if m.topic.endswith("d1/detections"):
            p = json.loads(m.payload)
            assert p["platform"]["alt_m"] == 120.0
            for d in p["detections"]:
                xy = SITE.frame.to_enu(d["lat"], d["lon"])[:2]
                near = min(objs, key=lambda k: np.linalg.norm(objs[k].enu[0] - xy))
                labels[near].append(d["class"])
                err.append(np.linalg.norm(objs[near].enu[0] - xy))
    n_reports = 2000
    assert not labels["out"]  # 780 m away: outside the 300 m footprint
    for key, row in (("p", {"person": 0.85, "animal": 0.05, "unknown": 0.10}), ("a-01", {"animal": 0.80, "person": 0.10, "unknown": 0.10})):
        got = labels[key]
        assert abs(len(got) / n_reports - 0.9) < 4 * np.sqrt(0.09 / n_reports)
        for cls, p in row.items():
            frac = got.count(cls) / len(got)
            assert abs(frac - p) < 4 * np.sqrt(p * (1 - p) / len(got)) + 1e-9, (key, cls, frac)
    # 2-D Gaussian with sigma 10 m per axis: mean distance sigma * sqrt(pi / 2)
    assert abs(np.mean(err) - 10 * np.sqrt(np.pi / 2)) < 0.5


def test_k9_reports_fresh_trail_late_with_narcotics():
    # a carrier walks south past the handler, who walks east-west on a road 300 m south of the line
    sc = scenario(
        duration_s=1500,
        sensors=[radar(), {"id": "k1", "type": "k9", "route": [{"lat": 48.9973, "lon": -122.753}, {"lat": 48.9973, "lon": -122.747}], "loop": True}],
        targets=[
            {"id": "mule", "kind": "walker", "narcotics": True, "start_s": 100, "route": [{"lat": 49.004, "lon": -122.75}, {"lat": 48.992, "lon": -122.75}]},
            {"id": "elsewhere", "kind": "walker", "route": [{"lat": 49.004, "lon": -122.70}, {"lat": 48.992, "lon": -122.70}]},
        ],
    )
    res = simulate(sc, SITE)
    reports = [json.loads(m.payload) for m in res.messages if m.topic.endswith("k1/detections")]
    assert len(reports) == 1
    (det,) = reports[0]["detections"]
    from adapters.timefmt import from_iso

    sent, observed = from_iso(reports[0]["time"]), from_iso(det["observed_time"])
    assert 30.0 <= sent - observed <= 300.0 + 240.0 + 1.0
    assert det["narcotics"] is True and det["count"] == 1 and 150 < det["heading_deg"] < 210
    mule = res.truth.object_by_id()["mule"]
    trail = mule.enu[int(round(observed - mule.t_start))]
    assert np.linalg.norm(SITE.frame.to_enu(det["lat"], det["lon"])[:2] - trail) < 4 * 120.0
    handler = SITE.frame.to_enu(reports[0]["platform"]["lat"], reports[0]["platform"]["lon"])[:2]
    assert abs(handler[1] - SITE.frame.to_enu(48.9973, -122.75)[1]) < 1.0  # on the patrol road
    assert res.truth.narcotics_carriers == ["mule"]
