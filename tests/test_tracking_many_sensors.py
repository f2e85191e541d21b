"""Sites with more than 64 sensors: a track's contributing sensors are a mask in 64-bit
words. With one int64 a sensor past the 63rd vanished from the track messages (or, the
64th, listed every sensor after it), and a K-9 team listed past the 63rd crashed every step."""

from __future__ import annotations

import json

import numpy as np
from test_tracker_support import T0, position_scan

from fusion.site import Site
from fusion.tracking import SectorTracker, TrackerConfig
from fusion.tracking.table import TrackTable
from fusion.types import SensorType, TrackStatus

N_DRONES = 129  # the K-9 team is sensor 129: word 2


def _site() -> Site:
    return Site.model_validate({
        "site": {"name": "many", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-122.9, 49.0], [-122.6, 49.0]]},
                   "protected_side": "south"},
        "sensors": [*({"id": f"drone-{i:03d}", "type": "drone"} for i in range(N_DRONES)), {"id": "k9-late", "type": "k9"}],
    })


def test_sensors_past_the_64th_are_named_and_k9_tracks_keep_their_age_limit() -> None:
    site = _site()
    cfg = TrackerConfig()
    trk = SectorTracker("s01", site, cfg)
    # one object per chosen drone, far apart, seen 6 times; object 5 by drones 5 and 100 in turn
    drones = [0, 5, 62, 63, 64, 100, 128]
    where = {d: np.array([float(d) * 300.0, 2000.0]) for d in drones}
    reports = []
    for k in range(6):
        t = T0 + k
        for d in drones:
            reports += trk.step(position_scan(t, where[d], 5.0, k, sensor=f"drone-{d:03d}", stype=SensorType.DRONE))
        reports += trk.step(position_scan(t + 0.5, where[5], 5.0, 100 + k, sensor="drone-100", stype=SensorType.DRONE))
    # a K-9 team alone, far from everything
    for k in range(4):
        reports += trk.step(position_scan(T0 + 6 + k, np.array([-20000.0, 500.0]), 5.0, 200 + k, sensor="k9-late",
                                          stype=SensorType.K9))
    latest = {r.track_id: r for r in reports}
    seen = sorted(tuple(r.sensors) for r in latest.values() if r.status in (TrackStatus.CONFIRMED, TrackStatus.COASTING))
    assert seen == sorted([("drone-000",), ("drone-005", "drone-100"), ("drone-062",), ("drone-063",), ("drone-064",),
                           ("drone-100",), ("drone-128",), ("k9-late",)])
    # the K-9-only track lives k9_max_age_s, the drones' tracks max_coast_s, after their last detection
    assert cfg.k9_max_age_s > cfg.max_coast_s
    gone = {r.track_id for r in trk.advance(T0 + 9 + cfg.max_coast_s + 1.0) if r.status == TrackStatus.DELETED}
    k9_id = next(tid for tid, r in latest.items() if r.sensors == ("k9-late",))
    assert len(gone) == len(drones) and k9_id not in gone
    assert k9_id in {r.track_id for r in trk.advance(T0 + 9 + cfg.k9_max_age_s + 1.0) if r.status == TrackStatus.DELETED}


def test_a_snapshot_with_one_int64_mask_per_row_restores_into_the_first_word() -> None:
    site = _site()
    trk = SectorTracker("s01", site)
    for k in range(3):
        trk.step(position_scan(T0 + k, np.array([0.0, 2000.0]), 5.0, k, sensor="drone-063", stype=SensorType.DRONE))
    snap = json.loads(json.dumps(trk.snapshot()))
    # as written before the words: bit 63 was the int64's sign
    legacy = TrackTable.from_dict(snap["table"], 3, 3)
    old = dict(snap["table"])
    from fusion.packing import pack
    old["sensors"] = pack(legacy.sensors[:, 0].view(np.int64).copy())
    assert int(legacy.sensors[0, 0]) == 1 << 63 and legacy.sensors[:, 0].view(np.int64)[0] < 0
    back = TrackTable.from_dict(old, 3, 3)
    assert back.sensors.shape == (legacy.n, 3)
    assert np.array_equal(back.sensors, legacy.sensors)
