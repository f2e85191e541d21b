"""Console without a browser: site layers as GeoJSON, the picture reducer, coalescing, replay timeline."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pytest

from adapters.timefmt import to_iso
from borderwatch.console.geometry import site_geojson, site_summary
from borderwatch.console.picture import Picture
from borderwatch.console.replay import ReplayError, ReplayPlayer, load_run
from borderwatch.console.stream import Hub, sse
from fusion.site import Site

T0 = 1_795_000_000.0


def small_site(protected_side: str = "south") -> Site:
    return Site.model_validate(
        {
            "site": {"name": "test-49th", "origin": {"lat": 49.0, "lon": -122.75}},
            "border": {"line": {"type": "LineString", "coordinates": [[-122.80, 49.0], [-122.70, 49.0]]}, "protected_side": protected_side},
            "zones": [
                {"id": "buffer-500m", "buffer_m": 500},
                {"id": "poe", "kind": "port_of_entry", "polygon": {"type": "Polygon", "coordinates": [[[-122.76, 48.998], [-122.75, 48.998], [-122.75, 49.002], [-122.76, 49.002], [-122.76, 48.998]]]}},
            ],
            "sensors": [
                {"id": "tower-1", "type": "radar", "lat": 48.997, "lon": -122.75, "alt_m": 30, "max_range_m": 5000},
                {"id": "drone-1", "type": "drone"},
            ],
            "teams": [{"id": "unit-7", "kind": "vehicle", "lat": 48.99, "lon": -122.74, "speed_mps": 12}],
        }
    )


def picture(site: Site | None = None) -> Picture:
    summary = site_summary(site or small_site())
    return Picture(summary["sensors"], summary["teams"])


def track(tid: str, t: float, lat: float = 49.001, lon: float = -122.75, status: str = "confirmed", **extra: object) -> dict:
    return {"track_id": tid, "time": to_iso(t), "status": status, "lat": lat, "lon": lon, "vel_east_mps": 0.5,
            "vel_north_mps": -1.2, "cov_en_m2": [[100.0, 5.0], [5.0, 64.0]], "existence": 0.9, "class": "person",
            "sensors": ["tower-1"], "sector": "main", **extra}


def alert(aid: str, t: float, state: str = "new", severity: str = "high", **extra: object) -> dict:
    return {"alert_id": aid, "state": state, "kind": "predicted_crossing", "severity": severity, "time": to_iso(t),
            "track_ids": ["T-1"], "lat": 49.001, "lon": -122.75, "direction": "southbound", "eta_s": 90.0,
            "crossing_point": {"lat": 49.0, "lon": -122.75}, "zone_id": None, "sensor_id": None, "summary": "s", **extra}


# ---- geometry -------------------------------------------------------------------
def layers(gj: dict, name: str) -> list[dict]:
    return [f for f in gj["features"] if f["properties"]["layer"] == name]


def test_coverage_circle_has_the_radar_range_on_the_ground() -> None:
    site = small_site()
    (cov,) = layers(site_geojson(site), "coverage")
    ring = np.asarray(cov["geometry"]["coordinates"][0])
    assert ring[0].tolist() == ring[-1].tolist()
    tower = site.frame.to_enu(48.997, -122.75)[:2]
    enu = site.frame.to_enu(ring[:, 1], ring[:, 0])[:, :2]
    dist = np.hypot(*(enu - tower).T)
    assert np.allclose(dist, 5000.0, atol=0.5)


def test_buffer_zone_is_metres_about_the_line_and_polygons_pass_through() -> None:
    site = small_site()
    zones = {f["properties"]["id"]: f for f in layers(site_geojson(site), "zone")}
    ring = np.asarray(zones["buffer-500m"]["geometry"]["coordinates"][0])
    enu = site.frame.to_enu(ring[:, 1], ring[:, 0])
    # Along the straight middle of the line, the buffer's edge is 500 m north and south of it.
    middle = np.abs(enu[:, 0]) < 2000
    assert np.allclose(np.abs(enu[middle, 1]), 500.0, atol=1.0)
    assert zones["poe"]["properties"]["kind"] == "port_of_entry"
    assert zones["poe"]["geometry"]["coordinates"][0][0] == [-122.76, 48.998]


@pytest.mark.parametrize("side,sign", [("south", -1), ("north", 1)])
def test_protected_band_lies_on_the_protected_side(side: str, sign: int) -> None:
    site = small_site(side)
    (band,) = layers(site_geojson(site), "protected_side")
    ring = np.asarray(band["geometry"]["coordinates"][0])
    north = site.frame.to_enu(ring[:, 1], ring[:, 0])[:, 1]
    assert np.all(sign * north > -5.0)  # every vertex on the protected side of (or on) the line
    assert np.max(sign * north) >= 990.0


def test_bbox_frames_the_site_but_not_the_coverage() -> None:
    gj = site_geojson(small_site())
    west, south, east, north = gj["bbox"]
    assert -122.81 < west < -122.80 and -122.70 < east < -122.69  # the line plus the 500 m buffer's round ends
    assert south <= 48.99 < 49.0 < north < 49.05  # the team and protected band, not the 5 km circle
    assert [f["properties"]["id"] for f in layers(gj, "sensor")] == ["tower-1"]  # the drone has no fixed place


# ---- picture ----------------------------------------------------------------------
def test_track_updates_build_a_trail_and_deleted_removes() -> None:
    pic = picture()
    for k in range(50):
        assert pic.apply("bw/v1/tracks/main", track("T-1", T0 + k, lat=49.0 + k * 1e-4), T0 + k)
    tr = pic.tracks["T-1"]
    assert len(tr["trail"]) == pic.trail_points
    assert tr["trail"][-1] == [pytest.approx(49.0049), -122.75, T0 + 49]
    assert tr["cov"] == [100.0, 5.0, 64.0]
    # Metre-scale jitter moves the track but does not scribble on its trail.
    pic.apply("bw/v1/tracks/main", track("T-1", T0 + 50, lat=49.0049 + 2e-5), T0 + 50)
    assert pic.tracks["T-1"]["lat"] == pytest.approx(49.00492) and pic.tracks["T-1"]["trail"][-1][2] == T0 + 49
    # An older report arriving late does not move the track back.
    pic.apply("bw/v1/tracks/main", track("T-1", T0, lat=48.0), T0 + 60)
    assert pic.tracks["T-1"]["lat"] == pytest.approx(49.0049)
    pic.take_delta()
    pic.apply("bw/v1/tracks/main", track("T-1", T0 + 61, status="deleted"), T0 + 61)
    assert "T-1" not in pic.tracks
    assert pic.take_delta()["removed_tracks"] == ["T-1"]


def test_delta_coalesces_many_messages_into_one_upsert_per_object() -> None:
    pic = picture()
    pic.take_delta()
    for k in range(20):
        for tid in ("T-1", "T-2", "T-3"):
            pic.apply("bw/v1/tracks/main", track(tid, T0 + k, lat=49.0 + k * 1e-4), T0 + k)
    delta = pic.take_delta()
    assert sorted(t["id"] for t in delta["tracks"]) == ["T-1", "T-2", "T-3"]
    # Pages extend their own trails: a delta carries only the points since the last one.
    assert all("trail" not in t and len(t["trail_add"]) == 20 for t in delta["tracks"])
    pic.apply("bw/v1/tracks/main", track("T-1", T0 + 30, lat=49.5), T0 + 30)
    assert pic.take_delta()["tracks"][0]["trail_add"] == [[49.5, -122.75, T0 + 30]]
    assert pic.take_delta() is None  # nothing new since


def test_alert_lifecycle_with_retained_state() -> None:
    pic = picture()
    pic.apply("bw/v1/alerts", alert("A-1", T0), T0)
    pic.apply("bw/v1/alerts/state/A-1", alert("A-1", T0), T0)
    pic.apply("bw/v1/alerts", alert("A-1", T0 + 5, state="update", severity="critical", eta_s=40.0), T0 + 5)
    a = pic.alerts["A-1"]
    assert (a["severity"], a["rank"], a["eta_s"], a["first_t"], a["t"]) == ("critical", 0, 40.0, T0, T0 + 5)
    pic.apply("bw/v1/alerts", alert("A-1", T0 + 6, state="update", ack={"operator": "op", "action": "ack", "comment": ""}), T0 + 6)
    pic.apply("bw/v1/alerts", alert("A-1", T0 + 7, state="update"), T0 + 7)  # later updates do not repeat the echo
    assert [(x["action"], x["operator"], x["t"]) for x in pic.alerts["A-1"]["service_acks"]] == [("ack", "op", T0 + 6)]
    pic.apply("bw/v1/alerts", alert("A-1", T0 + 9, state="end"), T0 + 9)
    assert "A-1" not in pic.alerts
    # A late copy of the retained state must not bring an ended alert back.
    pic.apply("bw/v1/alerts/state/A-1", alert("A-1", T0 + 5, state="update"), T0 + 10)
    assert "A-1" not in pic.alerts
    # An empty retained payload clears an alert, too.
    pic.apply("bw/v1/alerts/state/A-2", alert("A-2", T0), T0)
    pic.apply("bw/v1/alerts/state/A-2", None, T0 + 1)
    assert pic.alerts == {}


def test_reconnect_drops_retained_alerts_the_broker_no_longer_has() -> None:
    pic = picture()
    pic.apply("bw/v1/alerts/state/A-1", alert("A-1", T0), T0)
    pic.apply("bw/v1/alerts/state/A-2", alert("A-2", T0), T0)
    pic.apply("bw/v1/alerts", alert("A-3", T0), T0)  # seen only as an event: not reconciled
    pic.expect_retained_again()
    pic.apply("bw/v1/alerts/state/A-2", alert("A-2", T0), T0 + 30)
    assert pic.drop_unconfirmed() == 1
    assert sorted(pic.alerts) == ["A-2", "A-3"]


def test_dispatch_reply_and_cancel_and_team_position() -> None:
    pic = picture()
    order = {"dispatch_id": "D-1", "alert_id": "A-1", "team_id": "unit-7", "time": to_iso(T0), "state": "new",
             "target": {"lat": 49.001, "lon": -122.75}, "intercept": {"lat": 48.999, "lon": -122.75, "eta_s": 95.0}, "summary": "go"}
    pic.apply("bw/v1/dispatch/unit-7", order, T0)
    pic.apply("bw/v1/dispatch/unit-7/reply", {"dispatch_id": "D-1", "time": to_iso(T0 + 3), "reply": "accept"}, T0 + 3)
    assert pic.dispatch["unit-7"]["reply"] == "accept"
    pic.apply("bw/v1/dispatch/unit-7", {**order, "state": "update", "time": to_iso(T0 + 4)}, T0 + 4)
    assert pic.dispatch["unit-7"]["reply"] == "accept"  # the same order, moved
    pic.apply("bw/v1/teams/unit-7/position", {"time": to_iso(T0 + 5), "lat": 48.995, "lon": -122.745, "available": False}, T0 + 5)
    assert (pic.teams["unit-7"]["lat"], pic.teams["unit-7"]["available"]) == (48.995, False)
    pic.apply("bw/v1/dispatch/unit-7", {**order, "state": "cancel", "time": to_iso(T0 + 6)}, T0 + 6)
    assert pic.dispatch == {}


def test_sensor_health_from_status_and_detections() -> None:
    pic = picture()
    assert pic.sensors["tower-1"]["state"] == "unknown"
    pic.apply("bw/v1/sensors/radar/tower-1/status", {"state": "offline"}, T0)
    assert (pic.sensors["tower-1"]["state"], pic.sensors["tower-1"]["status_t"]) == ("offline", T0)
    pic.apply("bw/v1/sensors/radar/tower-1/detections", {}, T0 + 2)
    assert (pic.sensors["tower-1"]["state"], pic.sensors["tower-1"]["last_msg_t"]) == ("online", T0 + 2)
    pic.apply("bw/v1/sensors/radar/tower-1/status", {"state": "online", "time": to_iso(T0 - 300)}, T0 + 2.5)  # retained, old
    assert (pic.sensors["tower-1"]["state"], pic.sensors["tower-1"]["last_msg_t"]) == ("online", T0 + 2)
    pic.apply("bw/v1/sensors/drone/drone-1/detections", {"platform": {"lat": 49.01, "lon": -122.74}}, T0 + 3)
    assert (pic.sensors["drone-1"]["lat"], pic.sensors["drone-1"]["lon"]) == (49.01, -122.74)


@pytest.mark.parametrize(
    "topic,payload",
    [
        ("bw/v1/tracks/main", {"track_id": "T-1", "time": "yesterday", "lat": 49, "lon": -122}),
        ("bw/v1/tracks/main", {"track_id": "T-1", "time": to_iso(T0), "lat": float("nan"), "lon": -122}),
        ("bw/v1/alerts", {"state": "new"}),
        ("bw/v1/dispatch/unit-7", {"time": to_iso(T0)}),
        ("bw/v1/teams/unit-7/position", {"lat": "north"}),
        ("other/prefix/tracks/main", track("T-1", T0)),
        ("bw/v1/nonsense", {}),
    ],
)
def test_bad_messages_are_counted_not_raised(topic: str, payload: dict) -> None:
    pic = picture()
    assert pic.apply(topic, payload, T0) is False
    assert pic.bad_messages == 1 and pic.tracks == {} and pic.alerts == {}


def test_prune_drops_tracks_that_went_silent() -> None:
    pic = picture()
    pic.track_stale_s = 30.0
    pic.apply("bw/v1/tracks/main", track("T-1", T0), T0)
    pic.apply("bw/v1/tracks/main", track("T-2", T0 + 20), T0 + 20)
    assert pic.prune(T0 + 40) == 1
    assert list(pic.tracks) == ["T-2"]


def test_snapshot_is_json_and_has_no_nan() -> None:
    pic = picture()
    pic.apply("bw/v1/tracks/main", track("T-1", T0, cov_en_m2=[[float("inf"), 0], [0, 1]]), T0)
    frame = sse("snapshot", pic.snapshot())
    data = json.loads(frame.split("data: ", 1)[1])
    assert data["tracks"][0]["cov"] is None and data["tracks"][0]["trail"] == [[49.001, -122.75, T0]]


# ---- stream ------------------------------------------------------------------------
def test_a_slow_page_gets_a_snapshot_instead_of_an_unbounded_queue() -> None:
    asyncio.run(_slow_page())


async def _slow_page() -> None:
    pic = picture()
    hub = Hub(pic.snapshot)
    stream = hub.stream()
    assert (await anext(stream)).startswith("retry:")
    assert (await anext(stream)).startswith("event: snapshot")
    for k in range(200):  # far more batches than the page's queue holds
        hub.broadcast("batch", {"k": k})
    assert hub.resyncs >= 1
    assert (await anext(stream)).startswith("event: snapshot")
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


# ---- replay -------------------------------------------------------------------------
def write_run(run_dir: Path) -> None:
    run_dir.mkdir()
    tracks = [{"topic": "bw/v1/tracks/main", "payload": track("T-1", T0 + k, lat=49.0 + k * 1e-4)} for k in range(10)]
    tracks.append({"topic": "bw/v1/tracks/main", "payload": track("T-1", T0 + 10, status="deleted")})
    alerts = [
        {"topic": "bw/v1/alerts", "payload": alert("A-1", T0 + 3)},
        {"topic": "bw/v1/alerts/state/A-1", "payload": alert("A-1", T0 + 3)},
        {"topic": "bw/v1/alerts", "payload": alert("A-1", T0 + 8, state="end")},
        {"topic": "bw/v1/alerts/state/A-1", "payload": {}},
    ]
    for name, lines in (("tracks.jsonl", tracks), ("alerts.jsonl", alerts)):
        (run_dir / name).write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_replay_timeline_play_and_seek_back(tmp_path: Path) -> None:
    write_run(tmp_path / "run")
    msgs = load_run(tmp_path / "run")
    assert [m.t for m in msgs] == sorted(m.t for m in msgs)
    (cleared,) = [m for m in msgs if m.payload is None]
    assert cleared.t == T0 + 8  # the cleared state took the previous line's time
    pic = picture()
    player = ReplayPlayer(msgs, pic)
    assert (player.t0, player.t1) == (T0, T0 + 10)
    assert list(pic.tracks) == ["T-1"] and pic.alerts == {}
    player.set_speed(2.0)
    player.playing = True
    player.advance(2.0)  # 4 s of replay
    assert player.t == T0 + 4 and "A-1" in pic.alerts
    assert pic.tracks["T-1"]["lat"] == pytest.approx(49.0004)
    player.seek(T0 + 9)
    assert pic.alerts == {} and pic.tracks["T-1"]["lat"] == pytest.approx(49.0009)
    player.seek(T0 + 1.5)  # backwards: rebuilt from the start
    assert pic.alerts == {} and pic.tracks["T-1"]["lat"] == pytest.approx(49.0001)
    assert len(pic.tracks["T-1"]["trail"]) == 2
    player.advance(100.0)
    assert player.t == T0 + 10 and not player.playing and pic.tracks == {}


def test_replay_refuses_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="tracks.jsonl"):
        load_run(tmp_path)
    (tmp_path / "tracks.jsonl").write_text("not json\n")
    with pytest.raises(ReplayError, match=":1:"):
        load_run(tmp_path)


def test_countdowns_run_from_the_earlier_of_message_time_and_receipt() -> None:
    pic = picture()
    pic.apply("bw/v1/alerts/state/A-1", alert("A-1", T0), T0 + 300)  # retained: sent 5 min ago
    pic.apply("bw/v1/alerts", alert("A-2", T0 + 500), T0 + 400)  # the service's clock runs ahead of ours
    pic.apply("bw/v1/alerts", alert("A-2", T0 + 520, state="update"), T0 + 410)
    assert (pic.alerts["A-1"]["ref_t"], pic.alerts["A-1"]["first_ref_t"]) == (T0, T0)
    assert (pic.alerts["A-2"]["ref_t"], pic.alerts["A-2"]["first_ref_t"]) == (T0 + 410, T0 + 400)


def test_eta_fields_survive_for_countdowns() -> None:
    pic = picture()
    pic.apply("bw/v1/alerts", alert("A-1", T0, eta_s=None, crossing_point=None), T0)
    a = pic.alerts["A-1"]
    assert a["eta_s"] is None and a["crossing_point"] is None and not math.isnan(a["t"])


def test_replay_plays_real_replay_output(tmp_path: Path) -> None:
    """The console reads what ``borderwatch replay`` writes: the demo incident, replayed, then played."""
    from adapters.site_file import load_site
    from borderwatch.replay import replay_messages
    from simulators.engine import simulate
    from simulators.scenario import load_scenario

    root = Path(__file__).resolve().parents[1]
    scenario = load_scenario(root / "configs" / "scenarios" / "demo-group-crossing.yaml")
    site = load_site(scenario.site_path)
    replay_messages(simulate(scenario, site).messages, site, tmp_path / "run")
    pic = Picture(site_summary(site)["sensors"], site_summary(site)["teams"])
    player = ReplayPlayer(load_run(tmp_path / "run"), pic)
    kinds: set[str] = set()
    seen_tracks: set[str] = set()
    dispatched = False
    player.playing = True
    player.set_speed(10.0)
    while player.playing:
        player.advance(1.0)
        kinds |= {a["kind"] for a in pic.alerts.values()}
        seen_tracks |= set(pic.tracks)
        dispatched = dispatched or bool(pic.dispatch)
    assert pic.bad_messages == 0
    assert seen_tracks and {"predicted_crossing", "crossing"} & kinds and dispatched
    # Scrubbing back to the start empties the picture again.
    player.seek(player.t0)
    assert len(pic.tracks) <= 1 and pic.alerts == {}
