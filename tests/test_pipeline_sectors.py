"""Sectors: an object that moves from one sector into the next keeps its track and ID."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.site_file import load_site
from borderwatch.replay import replay_messages
from simulators.engine import simulate
from simulators.scenario import load_scenario

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

SCENARIO = f"""
name: sector-handover
site: {CONFIGS / 'site.yaml'}
start: "2026-11-25T01:00:00.000Z"
duration_s: 300
seed: 7
sensors:
  - {{id: tower-02, type: radar, sigma_range_m: 7.5, sigma_bearing_deg: 0.4, clutter_per_scan: 0.0}}
targets:
  - id: car-1
    kind: vehicle
    start_s: 5
    speed_mps: 9.0
    route:
      - {{lat: 48.9990, lon: -122.7700}}
      - {{lat: 48.9990, lon: -122.7300}}
"""


def test_a_vehicle_driving_across_the_sector_line_keeps_one_track(tmp_path: Path) -> None:
    path = tmp_path / "handover.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    site = load_site(scenario.site_path)
    summary = replay_messages(simulate(scenario, site).messages, site, tmp_path / "out")
    assert summary.counters["tracker.steps"] > 100 and summary.counters["tracker.window_shrunk"] == 0
    tracks = [json.loads(line)["payload"] for line in open(tmp_path / "out" / "tracks.jsonl")]
    confirmed = [t for t in tracks if t["status"] == "confirmed"]
    ids = {t["track_id"] for t in confirmed}
    assert len(ids) == 1, ids  # one object, one ID, although it drove from west into east
    lons = [t["lon"] for t in confirmed]
    assert min(lons) < -122.755 and max(lons) > -122.745  # the track really spans the line
