"""Wildlife versus people on radar alone (issue 5): echo size as a class cue, the odds an unlabelled
track needs before its motion raises crossing kinds, and a loiterer who waits instead of crossing."""

from __future__ import annotations

import numpy as np
from test_alerting import SITE, T0, news, report, walk
from test_tracker_support import make_site

from fusion.alerting import AlertEngine
from fusion.geodesy import polar_to_enu
from fusion.site import Site
from fusion.tracking import SectorTracker
from fusion.tracking.classify import with_rcs
from fusion.types import AlertReport, Scan, SensorType

CROSSING_KINDS = ("predicted_crossing", "crossing")


def radar_scan(site: Site, t: float, pts: np.ndarray, snr_1km_db: float, rng: np.random.Generator, seq: int) -> Scan:
    """A scan of tower-1 (on the line at the origin) seeing each point once, with the SNR the radar equation
    gives an object of ``snr_1km_db`` at 1 km (40 log10 range fall-off, 1 dB noise), as the simulator draws it."""
    spec = site.sensor_by_id["tower-1"]
    tower = site.frame.to_enu(spec.lat, spec.lon, 0.0)
    d = np.asarray(pts, float).reshape(-1, 2) - tower[:2]
    m = len(d)
    rng_m = np.hypot(d[:, 0], d[:, 1]) + rng.normal(0, 8.0, m)
    brg = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0 + rng.normal(0, 0.2, m)
    z, R = polar_to_enu(site.frame, spec.lat, spec.lon, rng_m, brg, np.full(m, 8.0), np.full(m, 0.2))
    snr = snr_1km_db - 40.0 * np.log10(rng_m / 1000.0) + rng.normal(0, 1.0, m)
    return Scan(time=t, sensor_id="tower-1", sensor_type=SensorType.RADAR, seq=seq, sensor_enu=tower,
                z=z.reshape(m, 2), R=R.reshape(m, 2, 2), det_time=np.full(m, t), class_probs=np.full((m, 4), 0.25),
                count=np.ones(m, np.int64), polar=np.c_[rng_m, np.radians(brg)],
                polar_sigma=np.c_[np.full(m, 8.0), np.full(m, np.radians(0.2))],
                radial_speed_mps=np.full(m, np.nan), snr_db=snr)


def straight_across(snr_1km_db: float, n_bodies: int, seed: int) -> list[AlertReport]:
    """Bodies 40 m apart (separate plots) walking due south at 1.1 m/s from 500 m north of the line to 200 m
    south of it, 1.5 km east of the tower: radar only, tracker then alerting, as the pipeline runs them."""
    site = make_site(clutter=1e-9)
    rng = np.random.default_rng(seed)
    trk, eng = SectorTracker("main", site), AlertEngine(site, "main")
    start = np.array([[1500.0 + 40.0 * i, 500.0] for i in range(n_bodies)])
    out: list[AlertReport] = []
    for k in range(int(700 / 1.1 / 2.0)):
        t = T0 + 2.0 * k
        reports = trk.step(radar_scan(site, t, start + np.array([0.0, -1.1 * 2.0 * k]), snr_1km_db, rng, k))
        out += eng.on_tracks(t, reports)
    return out


def test_radar_only_deer_walking_straight_across_raise_no_crossing_alert_a_walker_on_the_same_path_does() -> None:
    """Kinematically the same (straight, 1.1 m/s, 500 m of approach): only the echo size differs, 2 dB."""
    for seed in (1, 2):
        deer = straight_across(22.0, 3, seed)
        assert [a for a in deer if a.kind in CROSSING_KINDS] == [], "three deer, radar only"
        walker = [a for a in straight_across(24.0, 1, seed) if a.kind in CROSSING_KINDS]
        assert walker and walker[0].state == "new" and walker[0].kind == "predicted_crossing"
        assert walker[0].summary.startswith("1 person heading south")
        # warned ahead: it reaches the line 500 / 1.1 = 455 s in
        assert walker[0].time < T0 + 455.0 - 60.0


def test_echo_size_is_a_weak_cue_and_a_group_of_people_is_not_a_vehicle() -> None:
    uniform = np.full((4, 4), 0.25)
    at_1km = np.array([22.0, 24.0, 24.0 + 10.0 * np.log10(6.0), 36.0])  # a deer, a person, six people in one plot, a vehicle
    lik = with_rcs(uniform, at_1km - 40.0 * np.log10(2.0), np.full(4, 2000.0))  # seen at 2 km
    person, vehicle, animal = 0, 1, 2
    ratio = lik[:, person] / lik[:, animal]
    assert 0.9 < ratio[0] < 1.0 < ratio[1] < 1.1, "one detection barely tells a person from a deer"
    assert ratio[2] > 3.0, "six people are far bigger than a deer (e^1.5 per detection)"
    assert lik[2, person] > 1.2 * lik[2, vehicle], "... and within the size of a group, not a vehicle's"
    assert lik[3, vehicle] > lik[3, person], "a vehicle is bigger than eight people, a little"
    np.testing.assert_allclose(lik.sum(axis=1), 1.0)
    unchanged = with_rcs(uniform[:1], np.array([np.nan]), np.array([2000.0]))
    np.testing.assert_array_equal(unchanged, uniform[:1])


def test_unlabelled_track_needs_clear_odds_against_an_animal() -> None:
    """Same straight walk, radar only: a coin flip between person and animal waits, clear odds alert."""
    probs = {"doubt": np.array([0.5, 0.0, 0.48, 0.02]), "person": np.array([0.7, 0.02, 0.2, 0.08])}
    got = {}
    for name, cp in probs.items():
        eng = AlertEngine(SITE, "main")
        events = []
        for k in range(300):
            t = T0 + 2.0 * k
            r = report("T-1", t, 0.0, 600.0 - 3.0 * k, 0.0, -1.5, cls="unknown")
            r = type(r)(**{**r.__dict__, "class_probs": cp})
            events += eng.on_tracks(t, [r])
        got[name] = [a.kind for a in events if a.state == "new"]
    assert got["doubt"] == []
    assert got["person"] and got["person"][0] == "predicted_crossing"


def test_waiting_near_the_line_is_loitering_not_a_crossing_that_never_comes() -> None:
    """Walks up from 400 m, then mills within 15 m of a spot 60 m from the line for 10 min, with the noisy
    velocity of milling (often 1 m/s towards the line). The warning given on the approach ends; loitering opens."""
    eng = AlertEngine(SITE, "main")
    approach = walk(eng, "T-1", (0.0, 400.0), (0.0, -1.3), 260.0, t0=T0 - 262.0)  # to ~62 m north
    rng = np.random.default_rng(3)
    events = []
    for k in range(300):
        t = T0 + 2.0 * k
        a = 0.3 * k
        e, n = 15.0 * np.cos(a), 62.0 + 15.0 * np.sin(a)
        events += [(t, x) for x in eng.on_tracks(t, [report("T-1", t, e, n, *rng.normal(0.0, 1.0, 2))])]
    assert [a.kind for a in news(approach)] == ["predicted_crossing"], "walking up to the line is a warning"
    ended = [(t, a) for t, a in events if a.state == "end" and a.kind == "predicted_crossing"]
    assert [a.extra["reason"] for _, a in ended] == ["no_longer_predicted"]
    loiter = [(t, a) for t, a in events if a.state == "new" and a.kind == "loitering"]
    assert len(loiter) == 1 and loiter[0][0] >= ended[0][0], "the warning ends (in the same step at the latest)"
    assert [a for _, a in events if a.state == "new" and a.kind in CROSSING_KINDS] == []
    assert {a.kind for a in eng.open_alerts()} == {"loitering"}


def test_a_label_needs_a_look_not_only_a_confident_class() -> None:
    """P(person) 0.85 from radar alone (echo size, speed) is not a drone label: no buffer incursion for a track
    found on the protected side (crossing kinds judge its motion), while the same with a drone among its sensors is one."""
    eng = AlertEngine(SITE, "main")
    assert walk(eng, "T-1", (0.0, -300.0), (1.5, 0.0), 120.0, sensors=("tower-03",)) == []
    eng = AlertEngine(SITE, "main")
    looked = walk(eng, "T-1", (0.0, -300.0), (1.5, 0.0), 120.0, sensors=("tower-03", "drone-1"))
    assert [(a.kind, a.zone_id) for a in news(looked)] == [("incursion", "buffer-500m")]


def test_a_warning_ends_when_its_track_turns_out_to_be_wildlife() -> None:
    """Warned while the odds favoured a person; once the class evidence says animal the warning ends after
    close_hold_s (as any prediction that no longer holds), not when the animal's track is deleted."""
    eng = AlertEngine(SITE, "main")
    events = []
    for k in range(100):
        t = T0 + 2.0 * k
        r = report("T-1", t, 0.0, 400.0 - 3.0 * k, 0.0, -1.5, cls="unknown")
        cp = np.array([0.7, 0.02, 0.2, 0.08]) if k < 70 else np.array([0.1, 0.0, 0.88, 0.02])
        events += [(t, a) for a in eng.on_tracks(t, [type(r)(**{**r.__dict__, "class_probs": cp})])]
    assert [a.kind for _, a in events if a.state == "new"] == ["predicted_crossing"]
    ended = [(t, a) for t, a in events if a.state == "end"]
    assert [a.extra["reason"] for _, a in ended] == ["no_longer_predicted"]
    assert ended[0][0] - (T0 + 140.0) == eng.config.close_hold_s
