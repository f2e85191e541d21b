"""Simulator engine: determinism, contract validity, truth agreeing with trajectories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.ingest import DeadLetter, parse_inbound
from adapters.recording import read_recording, write_recording
from adapters.site_file import ConfigError, load_site
from adapters.topics import Topics
from borderwatch.cli import main
from fusion.types import Scan
from simulators.border import signed_distance
from simulators.engine import simulate
from simulators.scenario import Scenario, load_scenario, scenario_json_schema
from simulators.truth import load_truth, write_truth

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "scenarios" / "demo-group-crossing.yaml"


@pytest.fixture(scope="module")
def demo():
    scenario = load_scenario(DEMO)
    site = load_site(scenario.site_path)
    return scenario, site, simulate(scenario, site)


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    scenario, site, res = demo
    again = simulate(scenario, site)
    write_recording(res.messages, tmp_path / "a.jsonl")
    write_recording(again.messages, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    write_truth(res.truth, tmp_path / "a.json")
    write_truth(again.truth, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    other = simulate(scenario.model_copy(update={"seed": scenario.seed + 1}), site)
    assert [m.payload for m in other.messages] != [m.payload for m in res.messages]


def test_every_message_passes_ingest_and_is_in_receipt_order(demo):
    scenario, site, res = demo
    recv = [m.recv_time for m in res.messages]
    assert recv == sorted(recv)
    kinds = set()
    for m in res.messages:
        parsed = parse_inbound(m.topic, m.payload, m.recv_time, site, Topics())
        assert not isinstance(parsed, DeadLetter), (m.topic, parsed)
        kinds.add(type(parsed).__name__)
    assert {"Scan", "SensorStatus", "TeamPosition"} <= kinds
    # seq rises by one per message per sensor
    seqs: dict[str, list[int]] = {}
    for m in res.messages:
        if m.topic.endswith("/detections"):
            p = json.loads(m.payload)
            seqs.setdefault(p["sensor_id"], []).append(p["seq"])
    for sid, s in seqs.items():
        assert s == list(range(len(s))), sid


def test_group_is_one_radar_plot_near_truth(demo):
    """The 4 walkers of the group merge into one detection in tower-02's resolution cell,
    and that plot, converted back with fusion.geodesy, lies within noise of the centroid."""
    scenario, site, res = demo
    obj = res.truth.objects[0]
    assert obj.count == 4
    near, plots = 0, 0
    for m in res.messages:
        if not m.topic.endswith("radar/tower-02/detections"):
            continue
        scan = parse_inbound(m.topic, m.payload, m.recv_time, site, Topics())
        assert isinstance(scan, Scan)
        i = int(round(scan.time - obj.t_start))
        if not 0 <= i < len(obj.enu) or scan.size == 0:
            continue
        d = np.linalg.norm(scan.z - obj.enu[i], axis=1)
        close = d < 40.0
        near += int(close.sum())
        plots += 1
    assert plots > 80
    # one plot per scan from the group (two only if a cell boundary splits it), Pd ~0.92+ per member
    assert 0.85 * plots <= near <= 1.15 * plots


def test_truth_crossing_agrees_with_trajectory(demo):
    scenario, site, res = demo
    (c,) = res.truth.crossings
    assert c.direction == "southbound" and c.into_protected and not c.legal and c.count == 4
    obj = res.truth.objects[0]
    # crossing point on the line, between the samples either side, which are on opposite sides
    assert abs(signed_distance(site.border_enu, np.array([c.enu]))[0]) < 0.05
    i = int(np.floor(c.time - obj.t_start))
    d = signed_distance(site.border_enu, obj.enu[i : i + 2])
    assert d[0] > 0 > d[1]
    seg = obj.enu[i + 1] - obj.enu[i]
    f = c.time - obj.t_start - i
    assert np.allclose(obj.enu[i] + f * seg, c.enu, atol=0.05)


def test_truth_round_trip_and_site_embedded(demo, tmp_path):
    _, site, res = demo
    write_truth(res.truth, tmp_path / "t.json")
    back = load_truth(tmp_path / "t.json")
    assert back.crossings[0].object_id == res.truth.crossings[0].object_id
    assert abs(back.crossings[0].time - res.truth.crossings[0].time) < 1e-3
    assert np.allclose(back.objects[0].enu, res.truth.objects[0].enu, atol=0.006)
    assert back.site_model() == site


def test_scenario_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("size: 4", "size: -4").replace("site: ../site.yaml", f"site: {ROOT}/configs/site.yaml"))
    with pytest.raises(ConfigError) as err:
        load_scenario(bad)
    msg = str(err.value)
    assert f"{bad}:" in msg and "targets[0].group.size" in msg
    schema = scenario_json_schema()
    assert "targets" in schema["properties"] and "base_dir" not in schema["properties"]


def test_unknown_sensor_is_refused(demo):
    scenario, site, _ = demo
    data = scenario.model_dump()
    data["sensors"][0]["id"] = "tower-99"
    with pytest.raises(ValueError, match="tower-99"):
        simulate(Scenario.model_validate(data), site)


def test_cli_schema_validates_shipped_scenarios(tmp_path):
    import jsonschema
    import yaml

    assert main(["simulate", "--schema", str(tmp_path / "s.json")]) == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    for path in (ROOT / "configs" / "scenarios").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "site": "s", "start": "2026-11-25T00:00:00Z", "duration_s": -1}, schema)


def test_cli_record_jsonl_and_mcap(tmp_path, capsys):
    for name in ("demo.jsonl", "demo.mcap"):
        assert main(["simulate", str(DEMO), "--record", str(tmp_path / name), "--quiet"]) == 0
    a = list(read_recording(tmp_path / "demo.jsonl"))
    b = list(read_recording(tmp_path / "demo.mcap"))
    assert a == b and len(a) > 100
    assert load_truth(tmp_path / "demo.truth.json").crossings


SHIPPED = sorted((ROOT / "configs" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_run_and_have_their_incident(path):
    scenario = load_scenario(path)
    site = load_site(scenario.site_path)
    res = simulate(scenario, site)
    assert res.messages and res.truth.objects
    illegal = [c for c in res.truth.crossings if c.into_protected and not c.legal and c.cls != "animal"]
    assert illegal, "every shipped scenario has at least one crossing to alert"
    # every side change of every 1 Hz path is one crossing event, in the right direction
    for o in res.truth.objects:
        d = signed_distance(site.border_enu, o.enu)
        changes = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
        events = sorted((c for c in res.truth.crossings if c.object_id == o.id), key=lambda c: c.time)
        assert len(events) == len(changes), o.id
        for i, c in zip(changes, events):
            assert o.t_start + i <= c.time <= o.t_start + i + 1
            assert c.into_protected == (d[i + 1] < 0) and c.direction == ("southbound" if d[i + 1] < 0 else "northbound")
    if path.stem == "port-of-entry-bypass":
        assert sum(c.legal for c in res.truth.crossings) > 10 and [c.object_id for c in illegal] == ["bypass-walker"]
    if path.stem == "loiterer-then-crosses":
        assert [e.object_id for e in res.truth.loitering] == ["loiterer-1"]
        ep = res.truth.loitering[0]
        assert ep.start + 600 < illegal[0].time <= ep.end  # ten minutes dwell, then across
    if path.stem == "group-night-tower-offline":
        assert not any(m.topic.endswith("tower-01/detections") for m in res.messages)
        assert any(m.topic.endswith("k9/k9-alpha/detections") and b'"narcotics":true' in m.payload for m in res.messages)


def test_port_traffic_queues_at_the_booth_without_overlap():
    scenario = load_scenario(ROOT / "configs" / "scenarios" / "port-of-entry-bypass.yaml")
    site = load_site(scenario.site_path)
    res = simulate(scenario, site)
    grid = np.arange(0.0, scenario.duration_s, 0.5)
    xy = res.motion.object_positions(grid)
    for lane in ("poe-south", "poe-north"):
        idx = [j for j, o in enumerate(res.motion.objects) if o.id.startswith(lane)]
        cars = xy[:, idx]
        d = np.linalg.norm(cars[:, :, None] - cars[:, None, :], axis=3)
        d[:, np.arange(len(idx)), np.arange(len(idx))] = np.inf
        assert np.nanmin(np.nan_to_num(d, nan=np.inf)) > 5.0, lane  # queue spacing 10 m, never on top of each other
        # first in, first out: each leaves the scene after the one in front
        ends = [res.motion.objects[j].path.t[-1] for j in idx]
        assert ends == sorted(ends)
    # someone had to wait: at 60 an hour and 45 s at the booth, queues form
    assert max(len(res.motion.objects[j].path.t) for j in range(len(res.motion.objects))) > 8
