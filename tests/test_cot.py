"""Formats beyond JSON: CoT output parses, carries the schema's required fields, is deterministic
from event time and sends; the GeoJSON export of a run directory."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from adapters.cot import CotSender, check_event, dispatch_event, hostile_track_events, track_event
from adapters.timefmt import to_iso
from fusion.site import Site
from fusion.types import AlertReport, DispatchReport, TrackReport, TrackStatus

T0 = 1_795_000_000.25
SITE = Site.model_validate({
    "site": {"name": "t", "origin": {"lat": 49.0, "lon": -122.75}},
    "border": {"line": {"type": "LineString", "coordinates": [[-122.9, 49.0], [-122.6, 49.0]]}, "protected_side": "south"},
    "sensors": [{"id": "tower-03", "type": "radar", "lat": 48.997, "lon": -122.64}],
})


def track(tid: str, cls: int = 0, status: TrackStatus = TrackStatus.CONFIRMED) -> TrackReport:
    cp = np.full(4, 0.05)
    cp[cls] = 0.85
    return TrackReport(tid, T0, status, np.array([700.0, 250.0, 0.0, -1.4]), np.diag([64.0, 100.0, 0.1, 0.1]), 0.97, cp,
                       ("tower-03", "drone-1"), "east", 2)


def test_track_event_fields() -> None:
    ev = check_event(track_event(track("T-000123"), SITE))
    assert (ev.uid, ev.type, ev.how) == ("borderwatch.T-000123", "a-h-G-U-C-I", "m-f")
    assert ev.time == ev.start == pytest.approx(T0, abs=1e-3) and ev.stale == pytest.approx(T0 + 30, abs=1e-3)
    lat, lon = SITE.frame.to_geodetic_2d(700.0, 250.0)
    assert ev.lat == pytest.approx(float(lat), abs=1e-7) and ev.lon == pytest.approx(float(lon), abs=1e-7)
    assert ev.ce == pytest.approx(10.0) and ev.hae == ev.le == 9999999.0
    assert ev.detail is not None
    assert ev.detail.find("contact").get("callsign") == "T-000123"
    assert float(ev.detail.find("track").get("course")) == pytest.approx(180.0)
    assert float(ev.detail.find("track").get("speed")) == pytest.approx(1.4)
    assert "person, 2 seen by tower-03, drone-1" in ev.detail.find("remarks").text
    assert check_event(track_event(track("T-2", cls=1), SITE)).type == "a-h-G-E-V"
    gone = check_event(track_event(track("T-2", status=TrackStatus.DELETED), SITE))
    assert gone.stale == gone.start


def test_output_depends_only_on_the_report() -> None:
    a = track_event(track("T-1"), SITE)
    assert a == track_event(track("T-1"), SITE)
    assert to_iso(T0).encode() in a and b'time="' + to_iso(T0).encode() + b'"' in a


def test_hostile_tracks_are_those_of_open_threat_alerts() -> None:
    alerts = [
        AlertReport("A-1", "update", "crossing", "high", T0, ("T-1",), np.zeros(2)),
        AlertReport("A-2", "new", "loitering", "low", T0, ("T-2",), np.zeros(2)),
        AlertReport("A-3", "end", "incursion", "medium", T0, ("T-3",), np.zeros(2)),
    ]
    evs = [check_event(x) for x in hostile_track_events([track("T-3"), track("T-2"), track("T-1")], alerts, SITE)]
    assert [e.uid for e in evs] == ["borderwatch.T-1"]
    assert evs[0].detail.find("remarks").text.startswith("crossing A-1. ")


def dispatch(state: str) -> DispatchReport:
    return DispatchReport("D-000007", "A-east-000003", "unit-7", T0, state, np.array([700.0, 250.0]),
                          np.array([710.0, -300.0]), 312.4, "1 person heading south; intercept in about 5 min 10 s")


def test_dispatch_order_is_a_goto_waypoint_for_the_team() -> None:
    ev = check_event(dispatch_event(dispatch("new"), SITE))
    assert (ev.uid, ev.type, ev.how) == ("borderwatch.D-000007", "b-m-p-w-GOTO", "m-p")
    lat, lon = SITE.frame.to_geodetic_2d(710.0, -300.0)
    assert (ev.lat, ev.lon) == (pytest.approx(float(lat), abs=1e-7), pytest.approx(float(lon), abs=1e-7))
    assert ev.detail.find("marti/dest").get("callsign") == "unit-7"
    assert ev.detail.find("link").get("uid") == "borderwatch.A-east-000003"
    assert "ETA 312 s" in ev.detail.find("remarks").text
    cancel = check_event(dispatch_event(dispatch("cancel"), SITE))
    assert cancel.type == "t-x-d-d" and cancel.detail.find("link").get("uid") == "borderwatch.D-000007"
    assert cancel.detail.find("__forcedelete") is not None


@pytest.mark.parametrize("bad,why", [
    (b'<event version="2.0" type="a-h-G" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:00:30Z"><point lat="1" lon="2" hae="0" ce="1" le="1"/></event>', "uid"),
    (b'<event version="2.0" uid="x" type="a h" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:00:30Z"><point lat="1" lon="2" hae="0" ce="1" le="1"/></event>', "type"),
    (b'<event version="2.0" uid="x" type="a-h" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:00:30Z"><detail/><point lat="1" lon="2" hae="0" ce="1" le="1"/></event>', "first child"),
    (b'<event version="2.0" uid="x" type="a-h" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2025-01-01T00:00:30Z"><point lat="1" lon="2" hae="0" ce="1" le="1"/></event>', "stale"),
    (b'<event version="2.0" uid="x" type="a-h" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:00:30Z"><point lat="91" lon="2" hae="0" ce="1" le="1"/></event>', "range"),
])
def test_check_event_refuses_what_the_schema_refuses(bad: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_event(bad)


def test_send_over_udp_and_tcp() -> None:
    events = [track_event(track("T-1"), SITE), dispatch_event(dispatch("new"), SITE)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        with CotSender("127.0.0.1", rx.getsockname()[1], "udp") as tx:
            assert tx.send(events) == 2
        got = [rx.recv(65536), rx.recv(65536)]
    assert got == events
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with CotSender("127.0.0.1", server.getsockname()[1], "tcp") as tx:
            conn, _ = server.accept()
            tx.send(events)
        conn.settimeout(5)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        conn.close()
    assert data == b"".join(events)


# --- GeoJSON export (the other format beyond JSON messages) -------------------------------------


def test_export_geojson_of_a_run_directory(tmp_path) -> None:
    import json

    from adapters import wire_out
    from borderwatch.cli import main

    site = Site.model_validate({
        **SITE.model_dump(mode="json"),
        "zones": [{"id": "buf", "buffer_m": 300}],
    })
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "tracks.jsonl", "w") as fh:
        for k in range(3):
            r = TrackReport("T-1", T0 + 2 * k, TrackStatus.CONFIRMED, np.array([0.0, 300.0 - 3 * k, 0.0, -1.5]), np.eye(4), 0.9,
                            np.array([0.7, 0.1, 0.1, 0.1]), ("tower-03",), "main")
            fh.write(json.dumps({"topic": "bw/v1/tracks/main", "payload": wire_out.track_payload(r, site)}) + "\n")
    with open(run / "alerts.jsonl", "w") as fh:
        for state in ("new", "end"):
            a = AlertReport("A-main-000001", state, "predicted_crossing", "medium", T0, ("T-1",), np.array([0.0, 297.0]),
                            "southbound", 200.0, np.array([0.0, 0.0]), None, None, "1 person heading south")
            fh.write(json.dumps({"topic": "bw/v1/alerts", "payload": wire_out.alert_payload(a, site)}) + "\n")
    site_file = tmp_path / "site.json"  # YAML is a superset of JSON
    site_file.write_text(json.dumps(site.model_dump(mode="json", exclude_none=True)))
    out = tmp_path / "run.geojson"
    assert main(["export", str(run), "--site", str(site_file), "--out", str(out)]) == 0
    fc = json.loads(out.read_text())
    assert fc["type"] == "FeatureCollection"
    by_type: dict[str, list[dict]] = {}
    for f in fc["features"]:
        by_type.setdefault(f["properties"]["feature_type"], []).append(f)
    (trail,) = by_type["track_trail"]
    lats = [c[1] for c in trail["geometry"]["coordinates"]]
    assert trail["geometry"]["type"] == "LineString" and len(lats) == 3 and lats == sorted(lats, reverse=True)
    assert by_type["track_last"][0]["geometry"]["coordinates"] == trail["geometry"]["coordinates"][-1]
    (alert,) = by_type["alert"]
    assert alert["properties"]["states"] == ["new", "end"] and alert["properties"]["ended"] is not None
    assert by_type["alert_crossing_point"][0]["geometry"]["coordinates"][1] == pytest.approx(49.0, abs=1e-6)
    ring = by_type["zone"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) > 10
    assert by_type["border"][0]["geometry"]["coordinates"][0] == [-122.9, 49.0]
    first = out.read_text()
    main(["export", str(run), "--site", str(site_file), "--out", str(out)])
    assert out.read_text() == first, "deterministic"


def test_run_to_cot_follows_open_alerts_and_orders() -> None:
    from adapters import wire_out
    from adapters.cot import run_to_cot

    def tr(k: int) -> dict:
        r = TrackReport("T-1", T0 + 10 * k, TrackStatus.CONFIRMED, np.array([0.0, 300.0 - 15 * k, 0.0, -1.5]), np.eye(4), 0.9,
                        np.array([0.7, 0.1, 0.1, 0.1]), ("tower-03",), "main")
        return wire_out.track_payload(r, SITE)

    def al(state: str, k: int) -> dict:
        a = AlertReport("A-1", state, "predicted_crossing", "medium", T0 + 10 * k, ("T-1",), np.array([0.0, 0.0]))
        return wire_out.alert_payload(a, SITE)

    tracks = [tr(k) for k in range(5)]
    alerts = [al("new", 1), al("end", 3)]
    orders = [wire_out.dispatch_payload(dispatch("new"), SITE)]
    events = [check_event(e) for e in run_to_cot(tracks, alerts, orders)]
    assert [(e.type, round(e.time - T0)) for e in events] == [
        ("b-m-p-w-GOTO", 0), ("a-h-G-U-C-I", 10), ("a-h-G-U-C-I", 20)], "tracks only while the alert is open"
    assert events[1].detail.find("remarks").text.startswith("predicted_crossing A-1. ")
