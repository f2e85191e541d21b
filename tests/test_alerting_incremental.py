"""Incremental alerting: a call sees the reported tracks' groups; a sweep adds what time alone changed."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.alerting import AlertConfig, AlertEngine
from fusion.alerting.grouping import GroupSearch
from fusion.alerting.position_cache import PositionCache, stack_reports
from fusion.types import AlertAck, TrackReport
from tests.test_alerting import SCAN_S, SITE, T0, k9_scan, report


def crowd(t: float, n: int = 200) -> list:
    """``n`` people milling east-west 1.5-3 km north of the line (never alerted)."""
    e = np.linspace(-8000, 8000, n)
    return [report(f"T-main-{k + 100:06d}", t, float(e[k]), 1500.0 + 10 * (k % 150), 1.0 if k % 2 else -1.0, 0.0)
            for k in range(n)]


def test_partial_call_decides_a_crossing_from_its_own_update_among_many_tracks() -> None:
    eng = AlertEngine(SITE, "main")
    eng.on_tracks(T0, crowd(T0), sweep=True)
    opened = None
    for k in range(200):
        t = T0 + k * SCAN_S
        out = eng.on_tracks(t, [report("T-main-000001", t, 500.0, 700.0 - 1.5 * k * SCAN_S, 0.0, -1.5)], sweep=False)
        if any(a.state == "new" and a.kind == "predicted_crossing" for a in out):
            opened = k
            break
    assert opened is not None, "a walker heading for the line raised no predicted crossing in partial calls"
    # the same walk with sweeps opens on the same update: partial calls lose no time
    ref = AlertEngine(SITE, "main")
    ref.on_tracks(T0, crowd(T0), sweep=True)
    for k in range(opened + 1):
        t = T0 + k * SCAN_S
        out = ref.on_tracks(t, [report("T-main-000001", t, 500.0, 700.0 - 1.5 * k * SCAN_S, 0.0, -1.5)], sweep=True)
    assert any(a.state == "new" and a.kind == "predicted_crossing" for a in out)


def test_partial_calls_leave_other_alerts_alone_and_a_sweep_ends_them() -> None:
    eng = AlertEngine(SITE, "main")
    t = T0
    for k in range(110):  # walker A approaches the line: predicted crossing opens
        t = T0 + k * SCAN_S
        eng.on_tracks(t, [report("T-main-000001", t, -3000.0, 500.0 - 3.0 * k, 0.0, -1.5)], sweep=False)
    alert = next(a for a in eng.alerts.values() if a.kind == "predicted_crossing")
    # A stops reporting; only B, far away, is updated in partial calls for a long time
    ended_early = []
    for k in range(1, 100):  # longer than the close hold and the stale-track limit
        t2 = t + k * SCAN_S
        ended_early += [a for a in eng.on_tracks(t2, [report("T-main-000002", t2, 6000.0, 3000.0, 1.0, 0.0)], sweep=False)
                        if a.alert_id == alert.id and a.state == "end"]
    assert ended_early == [] and alert.id in eng.alerts
    # a sweep (the pipeline's housekeeping) applies what time changed: A is stale, its alert ends
    out = eng.on_tracks(t2 + 1, [], sweep=True)
    assert [a.state for a in out if a.alert_id == alert.id] == ["end"]


def test_a_group_split_across_partial_reports_stays_one_alert() -> None:
    """Two walkers side by side, reported in alternate steps: one group, one alert."""
    eng = AlertEngine(SITE, "main")
    events = []
    for k in range(150):
        t = T0 + k * SCAN_S
        tid, de = ("T-main-000001", 0.0) if k % 2 == 0 else ("T-main-000002", 20.0)
        events += eng.on_tracks(t, [report(tid, t, 1000.0 + de, 500.0 - 3.0 * k, 0.0, -1.5)], sweep=False)
    new = [a for a in events if a.state == "new" and a.kind in ("predicted_crossing", "crossing")]
    assert len(new) == 1
    assert set(new[0].track_ids) == {"T-main-000001", "T-main-000002"}


ids = st.integers(1, 40).map(lambda i: f"T-main-{i:06d}")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "put_twice", "drop"]), ids, st.floats(-5e3, 5e3), st.floats(0, 10)),
                max_size=60))
def test_position_cache_matches_a_dict_of_reports(ops: list[tuple[str, str, float, float]]) -> None:
    cache, truth = PositionCache(), {}
    for op, tid, east, t in ops:
        if op.startswith("put"):
            r = report(tid, T0 + t, east, 100.0, 1.0, -0.5)
            # a batch of tracker steps may report a track twice: the last report counts
            cache.put([report(tid, T0 + t - 1.0, east - 7.0, 90.0, 2.0, 0.5), r] if op == "put_twice" else [r])
            truth[tid] = r
        else:
            cache.drop(tid)
            truth.pop(tid, None)
    now = T0 + 20.0
    xy, v, alive = cache.at(now)
    slots = cache.live_slots()
    assert cache.ids(slots) == sorted(truth) and len(cache) == len(truth) and alive.sum() == len(truth)
    for i, tid in zip(slots.tolist(), cache.ids(slots)):
        r = truth[tid]
        assert np.allclose(xy[i], r.x[:2] + r.x[2:4] * (now - r.time))
        assert np.allclose(v[i], r.x[2:4])
    assert cache.stale(now, 15.0) == sorted(k for k, r in truth.items() if now - r.time > 15.0)
    assert cache.ids(cache.slots(sorted(truth))) == sorted(truth)
    # the cached report columns are exactly the last reports' stacked (the track table is gathered from them)
    cols, want = cache.columns(slots), stack_reports([truth[k] for k in sorted(truth)])
    assert cols.keys() == want.keys() and all(np.array_equal(cols[k], want[k]) for k in want)


def test_group_search_finds_the_seeds_groups_among_many_rows() -> None:
    """A crowd of 400 with dead rows: the search reaches the seeds' groups (beyond the seeds) and no others."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, (400, 2))
    v = rng.choice([-1.0, 1.0], (400, 1)) * np.array([[1.2, 0.0]]) + rng.normal(0, 0.2, (400, 2))
    alive = rng.random(400) > 0.1
    live = np.flatnonzero(alive)
    adj = (np.linalg.norm(xy[live, None] - xy[None, live], axis=-1) < 60.0) & (np.linalg.norm(v[live, None] - v[None, live], axis=-1) < 0.8)
    _, comp = connected_components(csr_matrix(adj), directed=False)
    seeds = live[[3, 50, 51, 200]]
    search = GroupSearch(xy, v, alive, 60.0, 0.8)
    search.grow(seeds)
    assert np.array_equal(search.reached, live[np.isin(comp, comp[[3, 50, 51, 200]])])
    assert search.reached.size > seeds.size  # the seeds have neighbours: the search went somewhere


def test_eta_range_brackets_the_eta_and_narrows_as_the_velocity_is_known() -> None:
    """A walker 150 m from the line at 1.5 m/s: ETA 100 s; its quartile range shrinks with sigma_v.

    A fresh track (sigma_v 2 m/s) has no upper bound within 10 min; a well-known velocity
    still leaves the spread of the model's pace changes (acceleration PSD)."""
    from fusion.alerting.features import border_features, track_table
    from fusion.geofence import Geofence

    fence = Geofence(SITE)
    ranges = []
    for sigma_v in (2.0, 0.5, 0.1):
        r = report("T-main-000001", T0, 0.0, 150.0, 0.0, -1.5)
        r.P[2, 2] = r.P[3, 3] = sigma_v**2
        f = border_features(fence, track_table([r], T0), 300.0, 0.005, 0.2)
        lo, hi = f.eta_range(np.array([0]), 0.005, 600.0)[0]
        assert abs(f.eta_s[0] - 100.0) < 1.0
        assert lo < f.eta_s[0] < hi
        ranges.append(hi - lo)
    assert ranges[0] > ranges[1] > ranges[2]
    assert ranges[0] == np.inf and ranges[2] < 50.0


def _holders_from_scratch(eng: AlertEngine) -> dict[str, set[str]]:
    """The track -> open alerts index as the alerts say it is."""
    out: dict[str, set[str]] = {}
    for aid, alert in eng.alerts.items():
        for t in alert.track_ids:
            out.setdefault(t, set()).add(aid)
    return out


walker = st.integers(0, 5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.tuples(st.just("step"), st.integers(1, 63), st.booleans()),
                          st.tuples(st.just("delete"), walker, st.booleans()),
                          st.tuples(st.just("scan"), walker, st.booleans()),
                          st.tuples(st.sampled_from(["ack", "escalate", "dismiss"]), st.integers(0, 9), st.booleans()),
                          st.tuples(st.just("restore"), st.just(0), st.booleans())),
                min_size=10, max_size=60))
def test_track_alert_index_equals_a_rebuild_after_any_operations(ops: list[tuple[str, int, bool]]) -> None:
    """Six walkers heading for the line close enough to group, merge and split, reported in random subsets,
    deleted, linked to K-9 indications, acked, dismissed and restored from snapshots: after every
    operation the engine's track -> alerts index is exactly what its open alerts hold."""
    eng = AlertEngine(SITE, "main")
    t = T0

    def walker_report(i: int, status: str = "confirmed") -> TrackReport:
        ve, vn = 0.1 * i, -1.2 - 0.15 * i
        return report(f"T-main-{i + 1:06d}", t, -1500.0 + 35.0 * i + ve * (t - T0), 420.0 + 40.0 * i + vn * (t - T0), ve, vn,
                      status=status)

    for op, arg, flag in ops:
        t += 8.0
        if op == "step":
            eng.on_tracks(t, [walker_report(i) for i in range(6) if arg >> i & 1], sweep=flag)
        elif op == "delete":
            eng.on_tracks(t, [walker_report(arg, "deleted")], sweep=flag)
        elif op == "scan":
            r = walker_report(arg)
            eng.on_scan(k9_scan(t, float(r.x[0]), float(r.x[1])), [r] if flag else [])
        elif op == "restore":
            eng = AlertEngine.restore(SITE, "main", AlertConfig(), json.loads(json.dumps(eng.snapshot())))
        elif eng.alerts:
            eng.on_ack(AlertAck(t, sorted(eng.alerts)[arg % len(eng.alerts)], "op", op))
        assert eng._holders == _holders_from_scratch(eng)
