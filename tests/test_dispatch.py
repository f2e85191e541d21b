"""Dispatch: fastest team, intercept geometry, replies, updates, cancels, escalation, snapshots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from fusion.dispatch import DispatchConfig, Dispatcher
from fusion.site import Site
from fusion.types import AlertReport, DispatchReply, TeamPosition, TrackReport, TrackStatus

T0 = 1_795_000_000.0


def make_site(teams: list[dict]) -> Site:
    return Site.model_validate({
        "site": {"name": "t", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-122.90, 49.0], [-122.60, 49.0]]}, "protected_side": "south"},
        "sensors": [{"id": "tower", "type": "radar", "lat": 48.997, "lon": -122.75}],
        "teams": teams,
    })


# Teams are placed by ENU offsets from the origin through the site frame, so distances are exact.
BASE = make_site([])


def team(tid: str, east: float, north: float, speed: float, kind: str = "foot") -> dict:
    lat, lon = BASE.frame.to_geodetic_2d(east, north)
    return {"id": tid, "kind": kind, "lat": float(lat), "lon": float(lon), "speed_mps": speed}


def alert(aid: str, state: str, e: float, n: float, *, kind: str = "predicted_crossing", severity: str = "medium",
          tracks: tuple[str, ...] = ("T-1",), crossing: tuple[float, float] | None = None, extra: dict | None = None) -> AlertReport:
    return AlertReport(aid, state, kind, severity, T0, tracks, np.array([e, n]), "southbound", 100.0,
                       None if crossing is None else np.asarray(crossing), None, None, "1 person heading south", extra or {})


def track(tid: str, e: float, n: float, ve: float, vn: float, t: float = T0) -> TrackReport:
    return TrackReport(tid, t, TrackStatus.CONFIRMED, np.array([e, n, ve, vn]), np.eye(4), 0.99, np.array([0.7, 0.1, 0.1, 0.1]), ("tower",), "main")


def test_fastest_team_wins_not_the_nearest() -> None:
    site = make_site([team("foot-1", 0.0, -500.0, 1.8), team("car-1", 3000.0, -1000.0, 12.0, "vehicle")])
    d = Dispatcher(site)
    (order,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 0.0)], {})
    assert (order.team_id, order.state, order.dispatch_id, order.alert_id) == ("car-1", "new", "D-000001", "A-1")
    assert order.intercept_eta_s == pytest.approx(np.hypot(3000, 1000) / 12.0, rel=1e-3)
    assert "intercept in about" in order.summary
    d = Dispatcher(site)
    (order,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, -300.0)], {})
    assert order.team_id == "foot-1" and order.intercept_eta_s == pytest.approx(200.0 / 1.8, rel=1e-3)


@settings(max_examples=60, deadline=None)
@example(2551.0, 1280.0, -2.0, -2.0, 3.5)  # intercept at 3,600.1 s: beyond the default limit, a fallback there
@given(st.floats(-3000, 3000), st.floats(-3000, 3000), st.floats(-3, 3), st.floats(-3, 3), st.floats(2.0, 15.0))
def test_property_intercept_point_is_on_the_path_and_reached_at_the_same_time(qe: float, qn: float, ve: float, vn: float, speed: float) -> None:
    assume(speed > np.hypot(ve, vn) + 0.5)  # a team that is faster always intercepts
    site = make_site([team("u", qe, qn, speed)])
    d = Dispatcher(site, DispatchConfig(max_intercept_s=1e9))  # the maths, without the "too far" fallback
    tracks = {"T-1": track("T-1", 0.0, 500.0, ve, vn)}
    (order,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 500.0)], tracks)
    t = order.intercept_eta_s
    q = np.asarray(d.teams["u"].enu)
    target_then = np.array([0.0, 500.0]) + np.array([ve, vn]) * t
    np.testing.assert_allclose(order.intercept_enu, target_then, atol=1e-3 * max(1.0, t))
    assert np.linalg.norm(order.intercept_enu - q) == pytest.approx(speed * t, rel=1e-6, abs=1e-3)


def test_outrun_team_goes_to_the_crossing_point() -> None:
    site = make_site([team("foot-1", 0.0, -2000.0, 1.0)])
    d = Dispatcher(site)
    tracks = {"T-1": track("T-1", 0.0, 3000.0, 0.0, 8.0)}  # running north, away from the team, faster than it
    (order,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 3000.0, crossing=(0.0, 0.0))], tracks)
    np.testing.assert_allclose(order.intercept_enu, [0.0, 0.0], atol=1e-6)
    assert order.intercept_eta_s == pytest.approx(2000.0)


def test_decline_goes_to_the_next_team_and_never_back() -> None:
    site = make_site([team("a", 0.0, -100.0, 2.0), team("b", 0.0, -300.0, 2.0), team("c", 0.0, -900.0, 2.0)])
    d = Dispatcher(site)
    (first,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 0.0)], {})
    assert first.team_id == "a"
    (second,) = d.on_reply(DispatchReply(T0 + 5, "a", first.dispatch_id, "decline"))
    assert (second.team_id, second.state, second.dispatch_id) == ("b", "new", "D-000002")
    assert d.on_reply(DispatchReply(T0 + 6, "a", first.dispatch_id, "decline")) == [], "an old order is gone"
    assert d.on_reply(DispatchReply(T0 + 6, "c", second.dispatch_id, "decline")) == [], "only the ordered team replies"
    (third,) = d.on_reply(DispatchReply(T0 + 7, "b", second.dispatch_id, "decline"))
    assert third.team_id == "c"
    assert d.on_reply(DispatchReply(T0 + 8, "c", third.dispatch_id, "decline")) == [], "nobody left"
    assert d.on_alerts(T0 + 9, [alert("A-1", "update", 0.0, 0.0)], {}) == []


def test_one_team_per_alert_until_escalated_and_none_below_min_severity() -> None:
    site = make_site([team("a", 0.0, -100.0, 2.0), team("b", 0.0, -300.0, 2.0)])
    d = Dispatcher(site)
    assert d.on_alerts(T0, [alert("A-0", "new", 0.0, 0.0, kind="loitering", severity="low")], {}) == []
    assert d.on_alerts(T0, [alert("A-9", "new", 0.0, 0.0, kind="sensor_offline", severity="high", tracks=())], {}) == []
    (o1,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 0.0)], {})
    assert d.on_alerts(T0 + 2, [alert("A-1", "update", 0.0, -10.0)], {}) == []
    # another alert on the same track (e.g. narcotics) does not pull the second team
    assert d.on_alerts(T0 + 3, [alert("A-2", "new", 0.0, 0.0, kind="narcotics", severity="high")], {}) == []
    (o2,) = d.on_alerts(T0 + 4, [alert("A-1", "update", 0.0, -10.0, extra={"ack": {"action": "escalate"}, "escalated": True})], {})
    assert (o1.team_id, o2.team_id, o2.alert_id) == ("a", "b", "A-1")
    out = d.on_alerts(T0 + 5, [alert("A-1", "end", 0.0, -10.0)], {})
    assert [(c.state, c.alert_id, c.team_id) for c in out] == [
        ("cancel", "A-1", "a"), ("cancel", "A-1", "b"), ("new", "A-2", "a")], "the waiting narcotics alert gets the freed team"
    assert [o.alert_id for o in d.active_orders()] == ["A-2"]


def test_update_only_when_the_target_moves_notably() -> None:
    site = make_site([team("a", 0.0, -2000.0, 3.0)])
    d = Dispatcher(site, DispatchConfig(update_distance_m=100.0))
    tracks = {"T-1": track("T-1", 0.0, 1000.0, 0.0, -1.5)}
    (o,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 1000.0)], tracks)
    tracks = {"T-1": track("T-1", 20.0, 1000.0, 0.0, -1.5)}
    assert d.on_alerts(T0 + 2, [alert("A-1", "update", 20.0, 1000.0)], tracks) == []
    tracks = {"T-1": track("T-1", 0.0, 1000.0, 1.5, 0.0)}  # turned east: the intercept point moves a lot
    (u,) = d.on_alerts(T0 + 4, [alert("A-1", "update", 0.0, 1000.0)], tracks)
    assert (u.state, u.dispatch_id, u.team_id) == ("update", o.dispatch_id, "a")
    assert np.linalg.norm(u.intercept_enu - o.intercept_enu) >= 100.0


def test_a_distant_intercept_is_not_re_aimed_for_every_100_m() -> None:
    site = make_site([team("a", 0.0, -3000.0, 3.0)])
    d = Dispatcher(site)  # 100 m, or 10 % of the team's way to the intercept
    tracks = {"T-1": track("T-1", 0.0, 500.0, 0.0, -1.5)}
    (o,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 500.0)], tracks)
    way = np.linalg.norm(o.intercept_enu - np.array([0.0, -3000.0]))
    assert way > 2000.0
    tracks = {"T-1": track("T-1", 150.0, 500.0, 0.0, -1.5)}  # the estimate wanders 150 m: not notable this far out
    assert d.on_alerts(T0 + 2, [alert("A-1", "update", 150.0, 500.0)], tracks) == []
    tracks = {"T-1": track("T-1", 400.0, 500.0, 0.0, -1.5)}  # 400 m: more than 10 % of the way
    (u,) = d.on_alerts(T0 + 4, [alert("A-1", "update", 400.0, 500.0)], tracks)
    assert u.state == "update"


def test_replies_clear_frees_the_team_and_unavailable_teams_are_skipped() -> None:
    site = make_site([team("a", 0.0, -100.0, 2.0), team("b", 0.0, -3000.0, 2.0)])
    d = Dispatcher(site)
    d.on_team_position(TeamPosition(T0, "a", np.array([0.0, -50.0]), available=False))
    (o,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 0.0)], {})
    assert o.team_id == "b"
    d.on_team_position(TeamPosition(T0, "a", np.array([0.0, -50.0]), available=True))
    assert d.on_reply(DispatchReply(T0 + 1, "b", o.dispatch_id, "accept")) == []
    assert d.on_reply(DispatchReply(T0 + 2, "b", o.dispatch_id, "on_scene")) == []
    assert [x.state for x in d.active_orders()] == ["on_scene"]
    assert d.on_reply(DispatchReply(T0 + 3, "b", o.dispatch_id, "clear")) == []
    assert d.active_orders() == []
    assert d.on_alerts(T0 + 4, [alert("A-1", "update", 0.0, 0.0)], {}) == [], "cleared: the alert is handled"
    (o2,) = d.on_alerts(T0 + 5, [alert("A-2", "new", 5000.0, 0.0, tracks=("T-2",))], {})
    assert o2.team_id == "a"
    assert d.on_alerts(T0 + 6, [alert("A-1", "end", 0.0, 0.0)], {}) == [], "nothing to cancel after clear"


def test_queued_alert_gets_a_team_when_one_is_free() -> None:
    site = make_site([team("a", 0.0, -100.0, 2.0)])
    d = Dispatcher(site)
    (o1,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 0.0)], {})
    assert d.on_alerts(T0 + 1, [alert("A-2", "new", 900.0, 0.0, tracks=("T-2",))], {}) == []
    (cancel, o2) = d.on_alerts(T0 + 2, [alert("A-1", "end", 0.0, 0.0)], {})
    assert (cancel.state, cancel.team_id) == ("cancel", "a")
    assert (o2.state, o2.alert_id, o2.team_id) == ("new", "A-2", "a")


def test_snapshot_restore() -> None:
    site = make_site([team("a", 0.0, -100.0, 2.0), team("b", 0.0, -300.0, 2.0)])
    d = Dispatcher(site)
    (o,) = d.on_alerts(T0, [alert("A-1", "new", 0.0, 0.0)], {})
    d.on_reply(DispatchReply(T0 + 1, "a", o.dispatch_id, "decline"))
    snap = json.loads(json.dumps(d.snapshot()))
    r = Dispatcher.restore(site, DispatchConfig(), snap)
    assert json.loads(json.dumps(r.snapshot())) == snap
    assert [c.team_id for c in r.on_alerts(T0 + 2, [alert("A-1", "end", 0, 0)], {})] == ["b"]
