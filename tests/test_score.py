"""Scoring: alert metrics on crafted events, tracking figures on crafted runs, the score command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.site_file import load_site
from adapters.timefmt import to_iso
from borderwatch.cli import main
from borderwatch.score import score_run
from fusion.alert_metrics import AlertEvent, DispatchEvent, ThreatCrossing, TruthTable, alert_metrics
from simulators.engine import simulate
from simulators.scenario import load_scenario
from simulators.truth import Truth, write_truth

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "scenarios" / "demo-group-crossing.yaml"


# ---------------------------------------------------------------- fusion.alert_metrics, crafted


def _table() -> TruthTable:
    """Four objects for 600 s on a 1 Hz grid: a walker crossing south at t=300 s (y = 300 - t),
    a deer, a port vehicle and a second walker crossing at t=400 s, 2 km east."""
    t = np.arange(601.0)
    xy = np.full((601, 4, 2), np.nan)
    xy[:, 0] = np.column_stack([np.zeros_like(t), 300.0 - t])
    xy[:, 1] = np.column_stack([np.full_like(t, -1000.0), np.zeros_like(t)])
    xy[:, 2] = np.column_stack([np.full_like(t, 3000.0), 100.0 - t])
    xy[:, 3] = np.column_stack([np.full_like(t, 2000.0), 400.0 - t])
    return TruthTable(0.0, 1.0, ["w1", "deer", "poe-1", "w2"], ["person", "animal", "vehicle", "person"], np.array([0, 0, 1, 0], bool), xy)


def _ev(aid: str, kind: str, t: float, xy: tuple[float, float], state: str = "new") -> AlertEvent:
    return AlertEvent(aid, state, kind, t, xy)


CROSSINGS = [ThreatCrossing("w1", 300.0, "person"), ThreatCrossing("w2", 400.0, "person")]


def test_lead_time_late_window_and_false_alerts():
    tt = _table()
    alerts = [
        _ev("A-1", "predicted_crossing", 180.0, (10.0, 120.0)),  # w1 is at (0, 120): 180 s ahead
        _ev("A-1", "predicted_crossing", 200.0, (10.0, 100.0), "update"),
        _ev("A-1", "predicted_crossing", 320.0, (0.0, -20.0), "end"),
        _ev("A-2", "crossing", 425.0, (2000.0, -25.0)),  # w2: 25 s after its crossing, in time
        _ev("A-3", "incursion", 100.0, (-1000.0, 10.0)),  # the deer: false
        _ev("A-4", "crossing", 50.0, (3000.0, 50.0)),  # the port vehicle: false
        _ev("A-5", "loitering", 10.0, (5000.0, 0.0)),  # nothing there (clutter track): false
        _ev("A-6", "sensor_offline", 10.0, None),  # not a target alert
    ]
    m = alert_metrics(tt, CROSSINGS, alerts, [], duration_s=600.0)
    assert [c.alerted for c in m.crossings] == [True, True]
    assert [c.lead_s for c in m.crossings] == [120.0, -25.0]
    assert m.alerted_fraction == 1.0
    assert m.lead_median_s == pytest.approx(47.5) and m.lead_p10_s == pytest.approx(-25 + 0.1 * 145)
    assert m.false_alert_ids == ["A-3", "A-4", "A-5"]
    assert m.false_alerts_per_hour == pytest.approx(3 / (600 / 3600))
    assert m.n_alerts_by_kind["predicted_crossing"] == 1 and m.n_alerts_by_kind["sensor_offline"] == 1


def test_too_late_wrong_place_and_incursion_only_are_not_alerted():
    tt = _table()
    alerts = [
        _ev("A-1", "crossing", 331.0, (0.0, -31.0)),  # 31 s after the crossing: too late
        _ev("A-2", "predicted_crossing", 200.0, (600.0, 100.0)),  # 600 m off: covers nothing
        _ev("A-3", "incursion", 300.0, (2000.0, 100.0)),  # w2 by incursion only
    ]
    m = alert_metrics(tt, CROSSINGS, alerts, [], duration_s=600.0)
    assert [c.alerted for c in m.crossings] == [False, False]
    assert [c.alerted_any_kind for c in m.crossings] == [False, True]
    assert m.alerted_fraction == 0.0 and m.lead_median_s is None
    assert m.false_alert_ids == ["A-2"]


def test_dispatch_eta_first_order_counts():
    tt = _table()
    alerts = [_ev("A-1", "predicted_crossing", 200.0, (0.0, 100.0))]
    dispatches = [
        DispatchEvent("D-1", "A-1", "new", 201.0, 240.0),
        DispatchEvent("D-1", "A-1", "update", 230.0, 200.0),
        DispatchEvent("D-2", "A-9", "new", 300.0, 60.0),
        DispatchEvent("D-2", "A-9", "cancel", 320.0, None),
    ]
    m = alert_metrics(tt, CROSSINGS, alerts, dispatches, duration_s=600.0)
    assert m.dispatch_etas_s == [240.0, 60.0]
    assert m.dispatch_eta_median_s == 150.0 and m.dispatch_eta_max_s == 240.0
    assert [c.dispatched for c in m.crossings] == [True, False]


# ---------------------------------------------------------------- borderwatch.score on a crafted run


@pytest.fixture(scope="module")
def demo_truth(tmp_path_factory) -> tuple[Truth, Path]:
    scenario = load_scenario(DEMO)
    res = simulate(scenario, load_site(scenario.site_path))
    path = tmp_path_factory.mktemp("truth") / "demo.truth.json"
    write_truth(res.truth, path)
    return res.truth, path


def _line(topic: str, payload: dict) -> str:
    return json.dumps({"topic": topic, "payload": payload}) + "\n"


def _write_run(truth: Truth, run_dir: Path, offset_m: float, gap: tuple[float, float] | None) -> None:
    """A tracker that is ``offset_m`` east of the truth every second; during ``gap`` (s after
    start) it has nothing, and after the gap the object has a new track id."""
    site = truth.site_model()
    (obj,) = truth.objects
    lines = []
    for i, xy in enumerate(obj.enu):
        t = obj.t_start + i
        rel = t - truth.start
        if gap and gap[0] <= rel < gap[1]:
            continue
        tid = "T-000002" if gap and rel >= gap[1] else "T-000001"
        lat, lon = site.frame.to_geodetic_2d(xy[0] + offset_m, xy[1])
        lines.append(
            _line("bw/v1/tracks/east", {"track_id": tid, "time": to_iso(t), "status": "confirmed", "lat": float(lat), "lon": float(lon),
                  "vel_east_mps": 0.0, "vel_north_mps": 0.0, "cov_en_m2": [[25.0, 0.0], [0.0, 25.0]], "existence": 0.99,
                  "class": "person", "sensors": ["tower-02"], "sector": "east"})
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "tracks.jsonl").write_text("".join(lines))
    c = truth.crossings[0]
    i = int(round(c.time - 90 - obj.t_start))
    lat, lon = site.frame.to_geodetic_2d(*obj.enu[i])
    alerts = [
        _line("bw/v1/alerts", {"alert_id": "A-000001", "state": "new", "kind": "predicted_crossing", "severity": "high",
                               "time": to_iso(obj.t_start + i), "track_ids": ["T-000001"], "lat": float(lat), "lon": float(lon)}),
        _line("bw/v1/alerts", {"alert_id": "A-000002", "state": "new", "kind": "incursion", "severity": "low",
                               "time": to_iso(truth.start + 30), "track_ids": ["T-000099"], "lat": 49.003, "lon": -122.70}),
    ]
    (run_dir / "alerts.jsonl").write_text("".join(alerts))
    (run_dir / "dispatch.jsonl").write_text(
        _line("bw/v1/dispatch/unit-7", {"dispatch_id": "D-000001", "alert_id": "A-000001", "team_id": "unit-7", "time": to_iso(obj.t_start + i + 1),
                                        "target": {"lat": float(lat), "lon": float(lon)}, "intercept": {"lat": 48.999, "lon": -122.74, "eta_s": 95.0}, "summary": ""})
    )


def test_score_figures_on_a_crafted_run(demo_truth, tmp_path):
    truth, _ = demo_truth
    _write_run(truth, tmp_path / "run", offset_m=5.0, gap=(100.0, 140.0))
    report, _, _ = score_run(tmp_path / "run", truth)
    t = report.tracking
    total = np.array(t.series["total_m"])
    rel = np.array(t.series["t_s"])
    obj = truth.objects[0]
    present = (rel >= obj.t_start - truth.start) & (rel < obj.t_start - truth.start + len(obj.enu))
    tracked = present & ~((rel >= 100) & (rel < 140))
    assert np.allclose(total[tracked], 5.0, atol=0.01)  # one object, 5 m off
    # the last report holds for max_age 10 s (the object walks away from it), then missed: c / 2^(1/p)
    assert np.all(np.diff(total[present & (rel >= 100) & (rel <= 110)]) > 0)
    assert np.allclose(total[present & (rel > 110) & (rel < 140)], 100 / np.sqrt(2), atol=0.01)
    assert np.all(total[~present] == 0.0)
    assigned = present & (total < 70)
    assert t.localisation_rms_m == pytest.approx(np.sqrt(np.mean(total[assigned] ** 2)), abs=0.01)
    assert (t.id_switches, t.fragmentations) == (1, 1)
    a = report.alerts
    assert a.alerted_fraction == 1.0 and a.lead_median_s == pytest.approx(90.0, abs=1.0)
    assert a.false_alert_ids == ["A-000002"] and a.false_alerts_per_hour == pytest.approx(15.0)
    assert a.dispatch_etas_s == [95.0] and a.n_dispatched_crossings == 1


def test_sensor_context_from_recording(demo_truth):
    from borderwatch.score import sensor_context

    truth, _ = demo_truth
    scenario = load_scenario(DEMO)
    ctx = sensor_context(simulate(scenario, load_site(scenario.site_path)).messages, truth.site_model())
    obj = truth.objects[0]
    near = np.min(np.linalg.norm(ctx.plots[:, None, :] - obj.enu[None, ::10, :], axis=2), axis=1) < 40
    assert near.sum() > 80  # the group's radar plots, among clutter
    assert set(ctx.platforms) == {"drone-1"} and ctx.k9 == []


def test_score_command_writes_report_and_plots(demo_truth, tmp_path, capsys):
    truth, truth_path = demo_truth
    _write_run(truth, tmp_path / "run", offset_m=5.0, gap=None)
    assert main(["simulate", str(DEMO), "--record", str(tmp_path / "demo.mcap"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["score", str(tmp_path / "run"), "--truth", str(truth_path), "--out", str(tmp_path / "rep"), "--recording", str(tmp_path / "demo.mcap")]) == 0
    out = capsys.readouterr().out
    assert "crossings alerted (<= 30 s after): 100 % (1/1)" in out
    for name in ("report.md", "report.json", "overview.png", "map.png", "gospa.png", "timeline.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 1000, name
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["tracking"]["id_switches"] == 0 and rep["alerts"]["n_crossings"] == 1
    assert "| group-1 | person |" in (tmp_path / "rep" / "report.md").read_text()
    assert main(["score", str(tmp_path / "nothing"), "--truth", str(truth_path)]) == 2


# ---------------------------------------------------------------- the whole chain: scenario -> replay -> score


def test_scenario_replay_score_chain(tmp_path):
    """The demo incident through the real pipeline (recorded as MCAP, read back) and scored:
    the group's crossing is warned of well ahead, nothing false, tracking within radar noise."""
    from adapters.recording import read_recording, write_recording
    from borderwatch.replay import replay_messages

    scenario = load_scenario(DEMO)
    site = load_site(scenario.site_path)
    res = simulate(scenario, site)
    write_recording(res.messages, tmp_path / "demo.mcap")
    replay_messages(list(read_recording(tmp_path / "demo.mcap")), site, tmp_path / "run")
    report, _, _ = score_run(tmp_path / "run", res.truth)
    a, t = report.alerts, report.tracking
    assert a.n_crossings == 1 and a.alerted_fraction == 1.0
    assert a.lead_median_s is not None and a.lead_median_s >= 60.0
    assert a.false_alert_ids == []
    assert a.n_dispatched_crossings == 1 and a.dispatch_eta_median_s is not None
    assert t.missed_mean < 0.05 and t.localisation_rms_m < 15.0 and t.id_switches == 0
    assert report.messages["deadletter"] == 0
