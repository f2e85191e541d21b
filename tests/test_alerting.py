"""Alerting from crafted track sequences (no tracker): each kind, lifecycle, hysteresis, groups, acks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.alerting import AlertConfig, AlertEngine
from fusion.sensor_health import SensorHealth
from fusion.site import Site
from fusion.types import AlertAck, AlertReport, Scan, SensorStatus, SensorType, TrackReport, TrackStatus

T0 = 1_795_000_000.0  # 2026-11-18, any epoch works
SCAN_S = 2.0


def make_site(zones: list[dict] | None = None) -> Site:
    """A 22 km border along 49 N, protected side south, origin on the line."""
    return Site.model_validate({
        "site": {"name": "test", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-122.90, 49.0], [-122.60, 49.0]]},
                   "protected_side": "south"},
        "zones": zones if zones is not None else [{"id": "buffer-500m", "buffer_m": 500}],
        "sensors": [
            {"id": "tower-03", "type": "radar", "lat": 49.0012, "lon": -122.7410},
            {"id": "drone-1", "type": "drone"},
            {"id": "k9-alpha", "type": "k9"},
        ],
        "teams": [{"id": "unit-7", "kind": "vehicle", "lat": 48.99, "lon": -122.74, "speed_mps": 12}],
    })


SITE = make_site()


def square(east_m: float, north_m: float, half_m: float) -> dict:
    """A GeoJSON polygon (lon, lat) about an ENU point, for zone fixtures."""
    corners = [(-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m), (-half_m, -half_m)]
    ring = []
    for de, dn in corners:
        lat, lon = SITE.frame.to_geodetic_2d(east_m + de, north_m + dn)
        ring.append([float(lon), float(lat)])
    return {"type": "Polygon", "coordinates": [ring]}


def report(tid: str, t: float, e: float, n: float, ve: float, vn: float, *, status: str = "confirmed",
           cls: str = "person", existence: float = 0.95, count: int = 1, sigma_m: float = 10.0,
           updated: bool = True, sensors: tuple[str, ...] | None = None) -> TrackReport:
    """A track report; a named class is a drone's label (the drone is among its sensors) unless ``sensors`` says otherwise."""
    probs = {"person": 0, "vehicle": 1, "animal": 2, "unknown": 3}
    cp = np.full(4, 0.05)
    cp[probs[cls]] = 0.85
    if cls == "unknown":
        cp = np.full(4, 0.25)
        cp[3] = 0.26
    P = np.diag([sigma_m**2, sigma_m**2, 0.05, 0.05])
    return TrackReport(tid, t, TrackStatus(status), np.array([e, n, ve, vn], dtype=float), P, existence, cp,
                       sensors if sensors is not None else ("tower-03",) if cls == "unknown" else ("tower-03", "drone-1"),
                       "main", count, None, updated)


def walk(eng: AlertEngine, tid: str, start: tuple[float, float], vel: tuple[float, float], seconds: float,
         t0: float = T0, **kw) -> list[tuple[float, AlertReport]]:
    """Feed a straight walk every scan; return (time, alert) for every event."""
    events = []
    for k in range(int(seconds / SCAN_S) + 1):
        t = t0 + k * SCAN_S
        e, n = start[0] + vel[0] * k * SCAN_S, start[1] + vel[1] * k * SCAN_S
        for a in eng.on_tracks(t, [report(tid, t, e, n, vel[0], vel[1], **kw)]):
            events.append((t, a))
    return events


def news(events: list[tuple[float, AlertReport]]) -> list[AlertReport]:
    return [a for _, a in events if a.state == "new"]


# --- predicted crossing and crossing ---------------------------------------------------------


def test_walker_gets_one_alert_from_prediction_to_crossing_to_deletion() -> None:
    eng = AlertEngine(SITE, "west")
    line_n = float(SITE.border_enu[0, 1]) * 0 + 0.0  # origin is on the 49th parallel: the line passes north = 0 here
    events = walk(eng, "T-1", (2000.0, 900.0), (0.0, -1.5), 900.0)
    t_cross = T0 + (900.0 - line_n) / 1.5  # the walker reaches the line after 600 s
    ids = {a.alert_id for _, a in events}
    assert ids == {"A-west-000001"}, "one situation, one alert id"
    first_t, first = events[0]
    assert first.state == "new" and first.kind == "predicted_crossing" and first.direction == "southbound"
    assert t_cross - first_t >= 150.0, "warned well ahead (P reaches p_open = 0.8 with a 5-minute horizon at eta ~170 s)"
    assert first.eta_s == pytest.approx(t_cross - first_t, rel=0.02)
    assert first.crossing_enu is not None and first.crossing_enu[0] == pytest.approx(2000.0, abs=1.0)
    assert abs(first.crossing_enu[1]) < 1.0
    assert "1 person heading south, crossing in about" in first.summary
    became = [(t, a) for t, a in events if a.kind == "crossing"]
    assert became and became[0][1].state == "update"
    # decided on the second update beyond the margin (max(5 m, 1 sigma = 10 m)) past the line
    assert 0.0 < became[0][0] - t_cross <= 10.0 / 1.5 + 2 * SCAN_S + 1e-6
    assert became[0][1].direction == "southbound" and became[0][1].eta_s is None
    assert became[0][1].severity == "high"
    etas = [a.eta_s for _, a in events if a.kind == "predicted_crossing"]
    assert all(b < a for a, b in zip(etas, etas[1:])), "eta counts down in the updates"
    end = eng.on_tracks(T0 + 902, [report("T-1", T0 + 902, 2000, -450, 0, -1.5, status="deleted")])
    assert [(a.state, a.kind, a.extra["reason"]) for a in end] == [("end", "crossing", "track_deleted")]
    assert eng.open_alerts() == []


def test_crossing_without_warning_opens_as_crossing() -> None:
    eng = AlertEngine(SITE, "main", AlertConfig(p_open=0.999))  # never predicted
    events = walk(eng, "T-1", (0.0, 40.0), (0.0, -1.5), 60.0)
    assert [(a.state, a.kind, a.direction) for a in news(events)] == [("new", "crossing", "southbound")]


def test_walker_parallel_or_away_raises_nothing() -> None:
    eng = AlertEngine(SITE, "main")
    assert walk(eng, "T-1", (-3000.0, 600.0), (1.5, 0.0), 600.0) == []
    assert walk(eng, "T-2", (0.0, 700.0), (0.0, 1.5), 300.0) == []


def test_northbound_crossing_is_not_alerted_by_default_but_can_be() -> None:
    eng = AlertEngine(SITE, "main")
    assert walk(eng, "T-1", (0.0, -600.0), (0.0, 1.5), 600.0) == []  # leaving the protected side
    eng = AlertEngine(SITE, "main", AlertConfig(alert_outbound_crossings=True))
    first = news(walk(eng, "T-1", (0.0, -600.0), (0.0, 1.5), 600.0))
    assert [(a.kind, a.direction) for a in first] == [("crossing", "northbound")]


def test_zigzag_within_margin_never_flips_and_big_zigzag_never_flaps() -> None:
    eng = AlertEngine(SITE, "main")
    events = []
    for k in range(300):  # 10 minutes hovering within 8 m of the line, sigma 10 m
        t = T0 + 2 * k
        n = 8.0 * np.sin(k * 0.7)
        events += eng.on_tracks(t, [report("T-1", t, 500.0, n, 0.0, 5.6 * np.cos(k * 0.7))])
    assert [a for a in events if a.kind == "crossing"] == []
    eng = AlertEngine(SITE, "main")
    events = []
    for k in range(300):  # +-60 m across the line, period ~40 s: crosses back and forth
        t = T0 + 2 * k
        n = 60.0 * np.sin(k * 0.3)
        events += eng.on_tracks(t, [report("T-1", t, 500.0, n, 0.0, 9.0 * np.cos(k * 0.3))])
    assert len([a for a in events if a.state == "new"]) == 1
    assert [a for a in events if a.state == "end"] == [], "an alert never ends while the zig-zag goes on"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-9.9, 9.9), min_size=5, max_size=80))
def test_property_any_wander_inside_the_margin_never_alerts_a_crossing(offsets: list[float]) -> None:
    eng = AlertEngine(SITE, "main")
    for k, n in enumerate(offsets):
        t = T0 + 2 * k
        out = eng.on_tracks(t, [report("T-1", t, 100.0, n, 0.0, 0.0)])
        assert all(a.kind != "crossing" for a in out)


def test_port_of_entry_crossing_is_legal() -> None:
    site = make_site([{"id": "poe", "kind": "port_of_entry", "polygon": square(0.0, 0.0, 300.0)}])
    eng = AlertEngine(site, "main")
    assert walk(eng, "T-1", (0.0, 250.0), (0.0, -1.5), 400.0) == []


def test_predicted_crossing_ends_after_turning_away_with_hold() -> None:
    eng = AlertEngine(SITE, "main")
    events = walk(eng, "T-1", (0.0, 400.0), (0.0, -1.5), 100.0)  # now at n=250, alert open
    assert news(events) and news(events)[0].kind == "predicted_crossing"
    t1 = T0 + 102.0
    later = walk(eng, "T-1", (0.0, 250.0), (0.0, 1.5), 100.0, t0=t1)
    ends = [(t, a) for t, a in later if a.state == "end"]
    assert len(ends) == 1 and ends[0][1].extra["reason"] == "no_longer_predicted"
    assert ends[0][0] - t1 >= eng.config.close_hold_s


# --- noise control -------------------------------------------------------------------------------


def test_animals_low_existence_and_tentative_tracks_raise_no_crossing() -> None:
    for kw in ({"cls": "animal"}, {"existence": 0.5}, {"status": "tentative"}):
        eng = AlertEngine(SITE, "main")
        assert walk(eng, "T-1", (0.0, 400.0), (0.0, -1.5), 500.0, **kw) == [], kw


def test_meandering_unknown_track_is_treated_as_wildlife() -> None:
    eng = AlertEngine(SITE, "main")
    events = []
    e, n = 0.0, 280.0
    for k in range(450):  # circling at 1.2 m/s (a turn every ~36 s) while drifting south at 0.4 m/s, crosses at ~700 s
        t = T0 + 2 * k
        heading = 0.35 * k
        ve, vn = 1.2 * np.sin(heading), 1.2 * np.cos(heading) - 0.4
        e, n = e + 2 * ve, n + 2 * vn
        events += eng.on_tracks(t, [report("T-1", t, e, n, ve, vn, cls="unknown")])
    assert n < -10.0, "it did cross"
    assert [a for a in events if a.kind in ("predicted_crossing", "crossing")] == []
    eng = AlertEngine(SITE, "main")
    walked = walk(eng, "T-1", (0.0, 600.0), (0.0, -1.5), 500.0, cls="unknown")
    assert news(walked)[0].kind == "predicted_crossing", "a straight-walking unknown is not wildlife"
    assert "1 unknown object heading south" in news(walked)[0].summary


def test_unlabelled_track_first_seen_near_the_line_is_alerted_once_it_has_made_progress() -> None:
    eng = AlertEngine(SITE, "main")
    events = walk(eng, "T-1", (0.0, 60.0), (0.0, -1.5), 150.0, cls="unknown")  # crosses 40 s in
    first = news(events)
    assert [a.kind for a in first] == ["crossing"]
    t_alert = [t for t, a in events if a.state == "new"][0]
    # needs 100 m of progress (reached 40 m past the line, ~27 s after crossing): within the 30 s the metric allows
    assert 0.0 < t_alert - (T0 + 40.0) <= 30.0


def test_zone_min_existence_override() -> None:
    zones = [{"id": "depot", "kind": "restricted", "polygon": square(0.0, -2000.0, 200.0), "min_existence": 0.99}]
    eng = AlertEngine(make_site(zones), "main")
    assert walk(eng, "T-1", (0.0, -1700.0), (0.0, -1.5), 300.0, existence=0.95) == []
    eng = AlertEngine(make_site(zones), "main")
    assert news(walk(eng, "T-1", (0.0, -1700.0), (0.0, -1.5), 300.0, existence=0.995))


# --- groups --------------------------------------------------------------------------------------


def test_group_shares_one_alert_and_counts_heads() -> None:
    eng = AlertEngine(SITE, "main")
    events = []
    for k in range(200):
        t = T0 + 2 * k
        reps = [report(f"T-{i}", t, 1000.0 + 25.0 * i, 700.0 - 1.5 * 2 * k + 5 * i, 0.0, -1.5, count=1 + (i == 2))
                for i in range(3)]
        events += eng.on_tracks(t, reps)
    new = [a for a in events if a.state == "new"]
    assert len(new) == 1
    assert new[0].track_ids == ("T-0", "T-1", "T-2")
    assert new[0].extra["count"] == 4 and new[0].summary.startswith("4 people heading south")
    assert new[0].severity == "high", "a group of 3+ raises severity one step"
    # two groups far apart: two alerts
    eng = AlertEngine(SITE, "main")
    out = []
    for k in range(150):
        t = T0 + 2 * k
        out += eng.on_tracks(t, [report("A", t, -3000.0, 500 - 3.0 * k, 0, -1.5), report("B", t, 3000.0, 500 - 3.0 * k, 0, -1.5)])
    assert len([a for a in out if a.state == "new"]) == 2


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**31 - 1), st.booleans())
def test_property_group_search_gives_the_connected_components_over_all_live_rows(n: int, seed: int, snap: bool) -> None:
    """GroupSearch from some seeds (in two calls) reaches exactly the seeds' connected components of the
    link graph over all live rows, and numbers them in order of first row. ``snap``: positions on a 30 m
    lattice, so pairs sit exactly on cell edges and exactly at the link distance."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from fusion.alerting.grouping import GroupSearch

    rng = np.random.default_rng(seed)
    xy = rng.uniform(-300, 300, (n, 2))
    if snap:
        xy = 30.0 * np.round(xy / 30.0)
    v = rng.normal(0, 0.6, (n, 2))
    alive = rng.random(n) > 0.2
    live = np.flatnonzero(alive)
    seeds = live[rng.random(live.size) < 0.3]
    search = GroupSearch(xy, v, alive, 60.0, 0.8)
    search.grow(seeds[: seeds.size // 2])
    search.grow(seeds[seeds.size // 2:])
    adj = (np.linalg.norm(xy[:, None] - xy[None], axis=-1) < 60.0) & (np.linalg.norm(v[:, None] - v[None], axis=-1) < 0.8)
    _, comp = connected_components(csr_matrix(adj[np.ix_(live, live)]), directed=False)
    want = live[np.isin(comp, comp[np.searchsorted(live, seeds)])]
    assert np.array_equal(search.reached, want)
    first = list(dict.fromkeys(comp[np.searchsorted(live, want)].tolist()))  # components by first reached row
    assert search.labels().tolist() == [first.index(c) for c in comp[np.searchsorted(live, want)].tolist()]


def test_merging_groups_keep_the_older_alert() -> None:
    eng = AlertEngine(SITE, "main")
    out = []
    for k in range(120):
        t = T0 + 2 * k
        gap = max(0.0, 600.0 - 10.0 * k)  # two walkers converge, then walk together
        out += eng.on_tracks(t, [report("A", t, -gap / 2, 400 - 3.0 * k, 0, -1.5), report("B", t, gap / 2, 400 - 3.0 * k, 0, -1.5)])
    ends = [a for a in out if a.state == "end"]
    assert [a.extra["reason"] for a in ends] == ["merged"]
    assert ends[0].extra["merged_into"] == "A-main-000001"
    assert [a.track_ids for a in eng.open_alerts()] == [("A", "B")]


# --- incursion and loitering -------------------------------------------------------------------------


def test_incursion_into_restricted_zone_and_no_flap_at_its_edge() -> None:
    zones = [{"id": "depot", "kind": "restricted", "polygon": square(0.0, -2000.0, 200.0)}]
    eng = AlertEngine(make_site(zones), "main")
    events = walk(eng, "T-1", (0.0, -1750.0), (0.0, -1.5), 60.0)  # enters the square at n=-1800
    assert [(a.kind, a.zone_id, a.severity) for a in news(events)] == [("incursion", "depot", "high")]
    assert "inside restricted zone depot" in news(events)[0].summary
    out = []
    for k in range(100):  # hover across the zone edge (n=-1800) by +-10 m
        t = T0 + 100 + 2 * k
        out += eng.on_tracks(t, [report("T-1", t, 0.0, -1800 + 10 * np.sin(k), 0.0, 0.0)])
    assert [a.state for a in out if a.state in ("new", "end")] == []
    out = walk(eng, "T-1", (0.0, -1800.0), (0.0, 1.5), 100.0, t0=T0 + 400)
    ends = [(t, a) for t, a in out if a.state == "end"]
    assert len(ends) == 1 and ends[0][1].extra["reason"] == "left_zone"


def test_buffer_zone_incursion_only_for_tracks_found_on_the_protected_side() -> None:
    eng = AlertEngine(SITE, "main")
    assert walk(eng, "T-1", (0.0, 300.0), (1.5, 0.0), 120.0) == []  # north half of the buffer: approach is prediction's job
    born_across = walk(eng, "T-2", (500.0, -200.0), (0.0, -1.0), 60.0)
    assert [(a.kind, a.zone_id) for a in news(born_across)] == [("incursion", "buffer-500m")]


def test_loitering_near_the_line() -> None:
    eng = AlertEngine(SITE, "main")
    out = []
    walk(eng, "T-1", (20.0, 370.0), (0.0, -1.5), 198.0, t0=T0 - 200.0)  # walks up to the line first, from 370 m
    for k in range(200):  # circling 70 m north of the line, radius 20 m, for 400 s
        t = T0 + 2 * k
        a = k * 0.1
        out += [(t, x) for x in eng.on_tracks(t, [report("T-1", t, 20 * np.cos(a), 70 + 20 * np.sin(a), -0.5 * np.sin(a) * 0.2, 0.1 * np.cos(a))])]
    new = news(out)
    assert [a.kind for a in new] == ["loitering"]
    t_new = [t for t, a in out if a.state == "new"][0]
    entered_band = T0 - 200.0 + (370.0 - 100.0) / 1.5  # within 100 m of the line from here
    assert t_new - entered_band == pytest.approx(eng.config.loiter_time_s, abs=SCAN_S)
    assert "loitering" in new[0].summary and new[0].severity == "low"
    left = walk(eng, "T-1", (0.0, 100.0), (0.0, 3.0), 60.0, t0=T0 + 400)
    assert [a.extra["reason"] for _, a in left if a.state == "end"] == ["left"]


# --- narcotics -----------------------------------------------------------------------------------


def k9_scan(t: float, e: float, n: float, observed_ago_s: float = 0.0, narcotics: bool = True) -> Scan:
    return Scan(time=t, sensor_id="k9-alpha", sensor_type=SensorType.K9, seq=1, sensor_enu=np.zeros(3),
                z=np.array([[e, n]]), R=np.array([np.eye(2) * 120.0**2]), det_time=np.array([t - observed_ago_s]),
                class_probs=np.full((1, 4), 0.25), count=np.array([3]), narcotics=np.array([narcotics]),
                heading_rad=np.array([np.pi]), notes=("dog indicated",))


def test_narcotics_links_the_track_that_was_there_when_the_sign_was_fresh() -> None:
    eng = AlertEngine(SITE, "main")
    t = T0 + 300
    # T-1 is at (0, 200) now, was at (0, 650) 300 s ago; T-2 is at (300, 650) now.
    tracks = [report("T-1", t, 0.0, 200.0, 0.0, -1.5), report("T-2", t, 300.0, 650.0, 0.0, 0.0)]
    eng.on_tracks(t, tracks)
    out = eng.on_scan(k9_scan(t, 20.0, 640.0, observed_ago_s=300.0), tracks)
    assert [(a.kind, a.track_ids, a.severity) for a in out] == [("narcotics", ("T-1",), "critical")]  # 3 people
    assert "linked to T-1" in out[0].summary and out[0].extra["note"] == "dog indicated"
    # the linked track's crossing situation is raised a step: predicted (medium) -> high, crossing (high) -> critical
    later = walk(eng, "T-1", (0.0, 200.0), (0.0, -1.5), 200.0, t0=t + 2)
    severities = {(a.kind, a.severity) for _, a in later if a.alert_id != out[0].alert_id}
    assert severities == {("predicted_crossing", "high"), ("crossing", "critical")}


def test_narcotics_without_track_expires() -> None:
    eng = AlertEngine(SITE, "main")
    out = eng.on_scan(k9_scan(T0, 5000.0, 3000.0), [])
    assert out[0].track_ids == () and "no track nearby" in out[0].summary
    assert eng.on_scan(k9_scan(T0, 0.0, 0.0, narcotics=False), []) == []
    assert eng.on_tracks(T0 + 100, []) == []
    ends = eng.on_tracks(T0 + eng.config.narcotics_hold_s + 1, [])
    assert [(a.state, a.extra["reason"]) for a in ends] == [("end", "expired")]


# --- acks, open alerts, snapshots ------------------------------------------------------------------


def test_ack_escalate_dismiss() -> None:
    eng = AlertEngine(SITE, "main")
    walk(eng, "T-1", (0.0, 500.0), (0.0, -1.5), 200.0)
    (alert,) = eng.open_alerts()
    out = eng.on_ack(AlertAck(T0 + 201, alert.alert_id, "op-1", "ack", "seen"))
    assert [(a.state, a.extra["ack"]) for a in out] == [("update", {"operator": "op-1", "action": "ack", "comment": "seen"})]
    assert out[0].time == T0 + 201
    out = eng.on_ack(AlertAck(T0 + 202, alert.alert_id, "op-1", "escalate"))
    assert out[0].severity == "high" and out[0].extra["escalated"] is True
    assert eng.on_ack(AlertAck(T0 + 203, "A-other-000001", "op-1", "ack")) == []
    out = eng.on_ack(AlertAck(T0 + 204, alert.alert_id, "op-1", "dismiss"))
    assert [(a.state, a.extra["reason"]) for a in out] == [("end", "dismissed")]
    again = walk(eng, "T-1", (0.0, 300.0), (0.0, -1.5), 400.0, t0=T0 + 206)
    assert again == [], "a dismissed situation is not raised again (not even when it crosses)"


def test_snapshot_restore_continues_identically() -> None:
    zones = [{"id": "buffer-500m", "buffer_m": 500}, {"id": "depot", "kind": "restricted", "polygon": square(0.0, -500.0, 150.0)}]
    site = make_site(zones)

    def steps(eng: AlertEngine, ks: range) -> list[tuple]:
        out = []
        for k in ks:
            t = T0 + 2 * k
            out += eng.on_tracks(t, [report("T-1", t, 0.0, 600 - 3.0 * k, 0.0, -1.5),
                                     report("T-2", t, 3000 + 20 * np.sin(k / 9), max(90.0, 300 - 3.0 * k), 0.0, -1.5 * (k < 70))])
        return [(a.alert_id, a.state, a.kind, a.severity, a.track_ids, a.eta_s, a.summary) for a in out]

    a = AlertEngine(site, "main")
    full = steps(a, range(0, 400))
    b = AlertEngine(site, "main")
    first = steps(b, range(0, 150))
    snap = json.loads(json.dumps(b.snapshot()))
    c = AlertEngine.restore(site, "main", AlertConfig(), snap)
    assert first + steps(c, range(150, 400)) == full
    assert {k for _, _, k, *_ in full} >= {"predicted_crossing", "crossing", "loitering", "incursion"}


# --- sensor health ---------------------------------------------------------------------------------


def test_sensor_offline_by_status_and_back_online() -> None:
    h = SensorHealth(SITE)
    out = h.on_status(SensorStatus(T0, "tower-03", SensorType.RADAR, "offline"))
    assert [(a.kind, a.state, a.sensor_id, a.severity, a.alert_id) for a in out] == [
        ("sensor_offline", "new", "tower-03", "high", "A-sensors-000001")]
    assert out[0].enu is not None and "reported offline" in out[0].summary
    assert h.on_status(SensorStatus(T0 + 1, "tower-03", SensorType.RADAR, "offline")) == []
    assert len(h.open_alerts()) == 1
    out = h.on_status(SensorStatus(T0 + 5, "tower-03", SensorType.RADAR, "online"))
    assert [(a.state, a.extra["reason"]) for a in out] == [("end", "online")]
    assert h.open_alerts() == []


def test_sensor_silence_after_n_periods_and_k9_never() -> None:
    h = SensorHealth(SITE, silence_periods=5)
    assert h.tick(T0) == []
    h.on_message("tower-03", T0)
    h.on_message("k9-alpha", T0)
    assert h.tick(T0 + 10.0) == []  # radar: exactly 5 x 2 s is still fine
    out = h.tick(T0 + 10.5)
    assert [(a.sensor_id, a.extra["cause"]) for a in out] == [("tower-03", "silence")]
    assert h.tick(T0 + 20) == []  # one alert per outage
    out = h.tick(T0 + 150.5)  # drone never heard: 5 x 30 s from the first tick
    assert [a.sensor_id for a in out] == ["drone-1"]
    assert h.tick(T0 + 36000) == []  # K-9 silence is never an alert
    out = h.on_message("tower-03", T0 + 200)
    assert [(a.state, a.sensor_id, a.extra["reason"]) for a in out] == [("end", "tower-03", "heard_again")]
    snap = json.loads(json.dumps(h.snapshot()))
    h2 = SensorHealth.restore(SITE, snap)
    assert [a.alert_id for a in h2.open_alerts()] == [a.alert_id for a in h.open_alerts()]
    assert [a.summary for a in h2.tick(T0 + 211)] == [a.summary for a in h.tick(T0 + 211)] == ["radar tower-03 silent for 10 s"]


def test_sensor_ack_and_dismiss() -> None:
    h = SensorHealth(SITE)
    (a,) = h.on_status(SensorStatus(T0, "drone-1", SensorType.DRONE, "offline"))
    assert h.on_ack(AlertAck(T0 + 1, a.alert_id, "op", "escalate"))[0].severity == "high"
    out = h.on_ack(AlertAck(T0 + 2, a.alert_id, "op", "dismiss"))
    assert out[0].state == "end" and h.tick(T0 + 10_000) == []
    h.on_message("drone-1", T0 + 10_001)
    h.on_message("tower-03", T0 + 10_151)
    assert [x.sensor_id for x in h.tick(T0 + 10_001 + 151)] == ["drone-1"], "watched again once heard"


def test_features_equal_a_per_row_measurement_and_project_crossings_on_demand() -> None:
    """Features from one measurement of the whole table equal those of each row measured alone,
    and on-demand crossing points are the border points nearest to where each track is heading."""
    from fusion.alerting.features import border_features, track_table
    from fusion.geofence import Geofence

    fence = Geofence(SITE)
    rng = np.random.default_rng(7)
    reps = [report(f"T{i}", T0, float(rng.uniform(-3000, 3000)), float(rng.uniform(-800, 800)),
                   float(rng.normal(0, 1.5)), float(rng.normal(-1, 1.5))) for i in range(60)]
    table = track_table(reps, T0)
    full = border_features(fence, table, 300.0, 0.005, 0.2)
    for i in range(0, table.size, 7):
        one = border_features(fence, track_table([reps[i]], T0), 300.0, 0.005, 0.2)
        for name in ("d", "normal", "v_n", "p_cross", "eta_s", "on_line", "ahead"):
            assert np.array_equal(getattr(full, name)[i], getattr(one, name)[0]), name
    rows = np.arange(table.size)
    assert np.array_equal(full.crossing_xy(fence, rows), fence.nearest_on_line(full.ahead))
