"""Inbound validation: every contract message to its core type, every bad input to one dead-letter code."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ingest import (
    DEADLETTER_CODES,
    DEFAULT_DRONE_CONFIDENCE,
    MAX_PAYLOAD_BYTES,
    DeadLetter,
    nesting_depth,
    parse_inbound,
)
from adapters.site_file import load_site
from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.geodesy import LocalFrame, polar_to_enu
from fusion.types import AlertAck, DispatchReply, Scan, SensorStatus, SensorType, TeamPosition

SITE = load_site(Path(__file__).resolve().parents[1] / "configs" / "site.yaml")
T = Topics()
T0 = 1_795_615_200.0  # 2026-11-25T14:00:00Z
RECV = T0 + 0.12
RADAR_TOPIC = T.detections("radar", "tower-02")
DRONE_TOPIC = T.detections("drone", "drone-1")
K9_TOPIC = T.detections("k9", "k9-alpha")


def parse(topic: str, obj: object, recv: float = RECV):
    payload = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return parse_inbound(topic, payload, recv, SITE, T)


def radar_msg(**over: object) -> dict:
    msg = {
        "sensor_id": "tower-02",
        "seq": 18231,
        "time": to_iso(T0),
        "detections": [
            {"range_m": 1523.4, "bearing_deg": 187.2, "sigma_range_m": 10.0, "sigma_bearing_deg": 0.5,
             "radial_speed_mps": -1.2, "snr_db": 14.0},
            {"range_m": 900.0, "bearing_deg": 10.0, "sigma_range_m": 8.0, "sigma_bearing_deg": 0.4},
        ],
    }
    msg.update(over)
    return msg


def drone_msg(**over: object) -> dict:
    msg = {
        "sensor_id": "drone-1",
        "seq": 7,
        "time": to_iso(T0),
        "platform": {"lat": 48.995, "lon": -122.75, "alt_m": 120.0},
        "detections": [
            {"lat": 49.0031, "lon": -122.7502, "sigma_m": 15.0, "class": "person", "confidence": 0.82, "count": 2},
            {"lat": 49.0011, "lon": -122.7402, "sigma_m": 20.0, "class": "vehicle"},
            {"lat": 49.0021, "lon": -122.7302, "sigma_m": 25.0, "class": "unknown", "confidence": 0.9},
        ],
    }
    msg.update(over)
    return msg


def k9_msg(**over: object) -> dict:
    msg = {
        "sensor_id": "k9-alpha",
        "seq": 3,
        "time": to_iso(T0),
        "platform": {"lat": 49.005, "lon": -122.77},
        "detections": [
            {"lat": 49.0101, "lon": -122.7705, "sigma_m": 120.0, "observed_time": to_iso(T0 - 170.0), "count": 3,
             "heading_deg": 180.0, "narcotics": True, "note": "fresh trail, dog indicated"},
            {"lat": 49.0091, "lon": -122.7605, "sigma_m": 200.0},
        ],
    }
    msg.update(over)
    return msg


# --- valid messages ------------------------------------------------------------------


def test_radar_scan_fills_every_field_from_the_site_tower() -> None:
    scan = parse(RADAR_TOPIC, radar_msg())
    assert isinstance(scan, Scan)
    assert (scan.sensor_type, scan.sensor_id, scan.seq, scan.time, scan.recv_time) == (SensorType.RADAR, "tower-02", 18231, T0, RECV)
    tower = SITE.sensor_by_id["tower-02"]
    z, R = polar_to_enu(SITE.frame, tower.lat, tower.lon, [1523.4, 900.0], [187.2, 10.0], [10.0, 8.0], [0.5, 0.4])
    np.testing.assert_allclose(scan.z, z)
    np.testing.assert_allclose(scan.R, R)
    np.testing.assert_allclose(scan.sensor_enu, SITE.frame.to_enu(tower.lat, tower.lon, tower.alt_m))
    np.testing.assert_allclose(scan.polar, [[1523.4, math.radians(187.2)], [900.0, math.radians(10.0)]])
    np.testing.assert_allclose(scan.polar_sigma, [[10.0, math.radians(0.5)], [8.0, math.radians(0.4)]])
    assert scan.radial_speed_mps[0] == -1.2 and np.isnan(scan.radial_speed_mps[1])
    assert scan.snr_db[0] == 14.0 and np.isnan(scan.snr_db[1])
    np.testing.assert_array_equal(scan.det_time, [T0, T0])
    np.testing.assert_allclose(scan.class_probs, 0.25)
    np.testing.assert_array_equal(scan.count, [1, 1])
    # 1523 m at 187 degrees from a tower 333 m south of the origin: ~1.85 km south, ~190 m west.
    assert -1900 < scan.z[0, 1] < -1800 and -200 < scan.z[0, 0] < -180


def test_radar_platform_overrides_the_site_tower() -> None:
    scan = parse(RADAR_TOPIC, radar_msg(platform={"lat": 48.99, "lon": -122.74, "alt_m": 12.0}))
    z, _ = polar_to_enu(SITE.frame, 48.99, -122.74, [1523.4, 900.0], [187.2, 10.0], [10.0, 8.0], [0.5, 0.4])
    np.testing.assert_allclose(scan.z, z)
    np.testing.assert_allclose(scan.sensor_enu, SITE.frame.to_enu(48.99, -122.74, 12.0))


def test_empty_radar_scan_is_information_not_an_error() -> None:
    scan = parse(RADAR_TOPIC, radar_msg(detections=[]))
    assert isinstance(scan, Scan) and scan.size == 0
    assert scan.z.shape == (0, 2) and scan.R.shape == (0, 2, 2) and scan.class_probs.shape == (0, 4)
    assert scan.polar.shape == (0, 2) and scan.det_time.shape == (0,)


def test_drone_scan_positions_covariance_and_class_probabilities() -> None:
    scan = parse(DRONE_TOPIC, drone_msg())
    assert isinstance(scan, Scan) and scan.size == 3
    np.testing.assert_allclose(scan.z, SITE.frame.to_enu([49.0031, 49.0011, 49.0021], [-122.7502, -122.7402, -122.7302])[:, :2])
    np.testing.assert_allclose(scan.R[:, 0, 0], [225.0, 400.0, 625.0])
    np.testing.assert_allclose(scan.R[:, 0, 1], 0.0)
    np.testing.assert_allclose(scan.class_probs[0], [0.82, 0.06, 0.06, 0.06])
    d = DEFAULT_DRONE_CONFIDENCE
    np.testing.assert_allclose(scan.class_probs[1], [(1 - d) / 3, d, (1 - d) / 3, (1 - d) / 3])
    np.testing.assert_allclose(scan.class_probs[2], 0.25)  # "unknown" carries no class information
    np.testing.assert_allclose(scan.class_probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scan.count, [2, 1, 1])
    np.testing.assert_allclose(scan.sensor_enu, SITE.frame.to_enu(48.995, -122.75, 120.0))
    assert scan.polar is None and scan.narcotics is None


def test_k9_report_uses_observed_time_heading_radians_and_notes() -> None:
    scan = parse(K9_TOPIC, k9_msg())
    assert isinstance(scan, Scan) and scan.size == 2
    np.testing.assert_array_equal(scan.det_time, [T0 - 170.0, T0])
    assert scan.time == T0
    np.testing.assert_array_equal(scan.narcotics, [True, False])
    assert scan.heading_rad[0] == pytest.approx(math.pi) and np.isnan(scan.heading_rad[1])
    assert scan.notes == ("fresh trail, dog indicated", "")
    np.testing.assert_array_equal(scan.count, [3, 1])
    np.testing.assert_allclose(scan.R[0], 14400.0 * np.eye(2))


def test_status_team_ack_and_reply() -> None:
    will = parse(T.sensor_status("radar", "tower-01"), {"state": "offline"})
    assert will == SensorStatus(RECV, "tower-01", SensorType.RADAR, "offline")
    st_ = parse(T.sensor_status("drone", "drone-1"), {"state": "degraded", "time": to_iso(T0), "battery": 0.2})
    assert st_ == SensorStatus(T0, "drone-1", SensorType.DRONE, "degraded")
    pos = parse(T.team_position("unit-7"), {"time": to_iso(T0), "lat": 49.0, "lon": -122.75, "available": False})
    assert isinstance(pos, TeamPosition) and not pos.available and pos.team_id == "unit-7"
    np.testing.assert_allclose(pos.enu, [0.0, 0.0], atol=1e-6)
    ack = parse(T.alert_ack("A-000045"), {"time": to_iso(T0), "operator": "ops-2", "action": "escalate", "comment": "x"})
    assert ack == AlertAck(T0, "A-000045", "ops-2", "escalate", "x")
    reply = parse(T.dispatch_reply("foot-3"), {"dispatch_id": "D-1", "time": to_iso(T0), "reply": "on_scene"})
    assert reply == DispatchReply(T0, "foot-3", "D-1", "on_scene", "")


def test_unknown_fields_are_ignored_and_offsets_accepted() -> None:
    msg = radar_msg(extra_field={"nested": [1, 2]}, time="2026-11-25T06:00:00.000-08:00")
    msg["detections"][0]["doppler_bin"] = 12
    scan = parse(RADAR_TOPIC, msg)
    assert isinstance(scan, Scan) and scan.time == T0


# --- one test per dead-letter code ---------------------------------------------------

DEEP = b'{"a":' * 40 + b"1" + b"}" * 40

BAD_INPUT = [
    ("oversize", RADAR_TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1)),
    ("unknown_topic", "bw/v1/sensors/radar/tower-02/telemetry", radar_msg()),
    ("unknown_topic", "elsewhere/tower-02", radar_msg()),
    ("unknown_topic", T.detections("lidar", "tower-02"), radar_msg()),
    ("not_utf8", RADAR_TOPIC, b'{"sensor_id": "\xff\xfe"}'),
    ("too_deep", RADAR_TOPIC, DEEP),
    ("too_deep", RADAR_TOPIC, b"[" * 100_000),
    ("too_deep", RADAR_TOPIC, b'{"pad": "' + b"x" * 6000 + b'", "deep": ' + b"[" * 33 + b"]" * 33 + b"}"),
    ("invalid_json", RADAR_TOPIC, b'{"sensor_id": "tower-02",'),
    ("invalid_json", RADAR_TOPIC, b'{"range_m": NaN}'),
    ("invalid_json", RADAR_TOPIC, b'{"range_m": -Infinity}'),
    ("invalid_json", RADAR_TOPIC, b'{"seq": 1, "seq": 2}'),
    ("invalid_json", RADAR_TOPIC, b""),
    ("not_object", RADAR_TOPIC, b"[1, 2]"),
    ("not_object", RADAR_TOPIC, b'"tower-02"'),
    ("schema", RADAR_TOPIC, radar_msg(seq=-1)),
    ("schema", RADAR_TOPIC, radar_msg(seq=1.5)),
    ("schema", RADAR_TOPIC, radar_msg(time="2026-11-25T14:00:00")),  # no offset
    ("schema", RADAR_TOPIC, radar_msg(time=T0)),  # epoch number, not ISO
    ("schema", RADAR_TOPIC, {"sensor_id": "tower-02", "seq": 1, "time": to_iso(T0)}),  # no detections
    ("schema", RADAR_TOPIC, b'{"sensor_id":"tower-02","seq":1,"time":"2026-11-25T14:00:00Z","detections":[{"range_m":1e400,'
                            b'"bearing_deg":1,"sigma_range_m":1,"sigma_bearing_deg":1}]}'),
    ("schema", RADAR_TOPIC, radar_msg(detections=[{"range_m": "12", "bearing_deg": 1, "sigma_range_m": 1, "sigma_bearing_deg": 1}])),
    ("schema", RADAR_TOPIC, radar_msg(detections=[{"range_m": 12, "bearing_deg": 360, "sigma_range_m": 1, "sigma_bearing_deg": 1}])),
    ("schema", RADAR_TOPIC, radar_msg(detections=[{"range_m": 12, "bearing_deg": 1, "sigma_range_m": 0, "sigma_bearing_deg": 1}])),
    ("schema", DRONE_TOPIC, drone_msg(detections=[{"lat": 91, "lon": 0, "sigma_m": 1}])),
    ("schema", DRONE_TOPIC, drone_msg(detections=[{"lat": 49, "lon": -122.7, "sigma_m": 1, "confidence": 1.2}])),
    ("schema", DRONE_TOPIC, drone_msg(detections=[{"lat": 49, "lon": -122.7, "sigma_m": 1, "class": "ghost"}])),
    ("schema", K9_TOPIC, k9_msg(detections=[{"lat": 49, "lon": -122.7, "sigma_m": 1, "count": 0}])),
    ("schema", K9_TOPIC, k9_msg(detections=[{"lat": 49, "lon": -122.7, "sigma_m": 1, "narcotics": "yes"}])),
    ("schema", T.sensor_status("radar", "tower-01"), {"state": "asleep"}),
    ("schema", T.alert_ack("A-1"), {"time": to_iso(T0), "operator": "x", "action": "ignore"}),
    ("unknown_sensor", T.detections("radar", "tower-99"), radar_msg(sensor_id="tower-99")),
    ("unknown_sensor", T.sensor_status("radar", "tower-99"), {"state": "online"}),
    ("unknown_team", T.team_position("unit-99"), {"time": to_iso(T0), "lat": 49.0, "lon": -122.7}),
    ("unknown_team", T.dispatch_reply("unit-99"), {"dispatch_id": "D-1", "time": to_iso(T0), "reply": "accept"}),
    ("sensor_mismatch", RADAR_TOPIC, radar_msg(sensor_id="tower-01")),  # posing as another tower
    ("sensor_mismatch", T.detections("drone", "tower-02"), drone_msg(sensor_id="tower-02")),  # wrong type
    ("sensor_mismatch", T.sensor_status("radar", "tower-01"), {"state": "online", "sensor_id": "tower-02"}),
    ("missing_platform", DRONE_TOPIC, drone_msg(platform=None)),
    ("missing_platform", K9_TOPIC, {k: v for k, v in k9_msg().items() if k != "platform"}),
    ("time_out_of_range", RADAR_TOPIC, radar_msg(time=to_iso(RECV + 61.0))),
    ("time_out_of_range", RADAR_TOPIC, radar_msg(time=to_iso(RECV - 24 * 3600 - 1))),
    ("time_out_of_range", K9_TOPIC, k9_msg(detections=[{"lat": 49, "lon": -122.7, "sigma_m": 50, "observed_time": to_iso(T0 - 601)}])),
    ("time_out_of_range", K9_TOPIC, k9_msg(detections=[{"lat": 49, "lon": -122.7, "sigma_m": 50, "observed_time": to_iso(T0 + 1)}])),
    ("time_out_of_range", T.team_position("unit-7"), {"time": to_iso(RECV + 3600), "lat": 49.0, "lon": -122.7}),
    ("out_of_area", DRONE_TOPIC, drone_msg(detections=[{"lat": 48.0, "lon": -122.75, "sigma_m": 10}])),  # 111 km south
    ("out_of_area", DRONE_TOPIC, drone_msg(platform={"lat": 0.0, "lon": 0.0})),
    ("out_of_area", RADAR_TOPIC, radar_msg(detections=[{"range_m": 150_000, "bearing_deg": 0, "sigma_range_m": 1, "sigma_bearing_deg": 1}])),
    ("out_of_area", T.team_position("unit-7"), {"time": to_iso(T0), "lat": 51.0, "lon": -122.7}),
]


@pytest.mark.parametrize(("code", "topic", "payload"), BAD_INPUT, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(BAD_INPUT)])
def test_each_bad_input_gets_its_dead_letter_code(code: str, topic: str, payload: object) -> None:
    result = parse(topic, payload)
    assert isinstance(result, DeadLetter), result
    assert result.code == code, result.reason
    assert result.reason.startswith(f"{code}: ") and len(result.reason) > len(code) + 3
    assert result.time == RECV and result.topic == topic
    assert len(result.payload_excerpt) <= 200


def test_every_documented_code_is_exercised() -> None:
    assert {c for c, _, _ in BAD_INPUT} == set(DEADLETTER_CODES)


def test_out_of_area_names_the_detection() -> None:
    msg = drone_msg()
    msg["detections"][2]["lat"] = 50.0
    assert parse(DRONE_TOPIC, msg).reason == "out_of_area: detections.2 is 111 km from the site origin (limit 100 km)"


def test_schema_reason_names_the_field_path() -> None:
    bad = radar_msg()
    bad["detections"][1]["range_m"] = -3.0
    result = parse(RADAR_TOPIC, bad)
    assert result.reason == "schema: detections.1.range_m: Input should be greater than or equal to 0"


def test_excerpt_is_the_payload_start_decoded_with_replacement() -> None:
    result = parse(RADAR_TOPIC, b"\xff" + b"a" * 500)
    assert result.payload_excerpt == "\ufffd" + "a" * 199


def test_a_bug_in_validation_costs_one_message_not_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.ingest as ingest

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(ingest, "polar_to_enu", broken)
    result = parse(RADAR_TOPIC, radar_msg())
    assert isinstance(result, DeadLetter) and result.reason == "internal: ZeroDivisionError: simulated bug"
    assert result.code == ingest.INTERNAL_CODE not in DEADLETTER_CODES


def test_duplicates_are_not_judged_here() -> None:
    """De-duplication by seq is the pipeline's (stateful) job: the same message parses twice."""
    assert isinstance(parse(RADAR_TOPIC, radar_msg()), Scan)
    assert isinstance(parse(RADAR_TOPIC, radar_msg()), Scan)


# --- depth scan ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=30,
)


def _depth(v: object) -> int:
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_nesting_depth_matches_the_parsed_structure(value: object) -> None:
    """Brackets inside strings (escaped quotes, backslashes, unicode) never count."""
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert nesting_depth(text.encode()) == _depth(value)


def test_depth_scan_is_linear_on_escaped_quote_runs() -> None:
    """A pathological run of escaped quotes (quadratic for a naive regex) still scans."""
    assert nesting_depth(b'"' + b'\\"' * 100_000) == 0
    assert nesting_depth(b'{"a": "\\\\", "b": [[1]]}') == 3


# --- fuzz: total function --------------------------------------------------------------

TOPICS = st.sampled_from(
    [RADAR_TOPIC, DRONE_TOPIC, K9_TOPIC, T.sensor_status("radar", "tower-02"), T.team_position("unit-7"),
     T.alert_ack("A-1"), T.dispatch_reply("unit-7"), "bw/v1/nothing", "bw/v1/sensors/k9/tower-02/detections"]
)


@settings(max_examples=400, deadline=None)
@given(TOPICS, st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(topic: str, payload: bytes) -> None:
    result = parse_inbound(topic, payload, RECV, SITE, T)
    assert isinstance(result, (Scan, SensorStatus, TeamPosition, AlertAck, DispatchReply, DeadLetter))
    assert not isinstance(result, DeadLetter) or result.code in DEADLETTER_CODES, result.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TOPICS, json_values)
def test_arbitrary_json_never_raises(topic: str, value: object) -> None:
    result = parse_inbound(topic, json.dumps(value).encode(), RECV, SITE, T)
    assert isinstance(result, (Scan, SensorStatus, TeamPosition, AlertAck, DispatchReply, DeadLetter))
    assert not isinstance(result, DeadLetter) or result.code in DEADLETTER_CODES, result.reason
    if not isinstance(value, dict):
        assert isinstance(result, DeadLetter)


def _set_path(obj: dict, path: list[str | int], value: object) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


MUTABLE_PATHS: list[tuple[str, dict, list[str | int]]] = [
    (RADAR_TOPIC, radar_msg(), p) for p in (["seq"], ["time"], ["sensor_id"], ["detections"], ["detections", 0, "range_m"],
                                            ["detections", 1, "bearing_deg"], ["detections", 0, "sigma_bearing_deg"], ["platform"])
] + [
    (DRONE_TOPIC, drone_msg(), p) for p in (["platform"], ["platform", "lat"], ["detections", 0, "class"], ["detections", 1, "sigma_m"],
                                            ["detections", 0, "count"], ["detections", 2, "confidence"])
] + [
    (K9_TOPIC, k9_msg(), p) for p in (["detections", 0, "observed_time"], ["detections", 0, "heading_deg"], ["detections", 1, "note"],
                                      ["detections", 0, "narcotics"], ["time"])
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MUTABLE_PATHS), json_values | st.floats() | st.integers(min_value=-(10**20), max_value=10**20))
def test_one_field_mutated_never_raises(case: tuple[str, dict, list[str | int]], value: object) -> None:
    topic, msg, path = case
    msg = json.loads(json.dumps(msg))
    _set_path(msg, path, value)
    payload = json.dumps(msg).encode()  # NaN/Infinity become literals here: invalid_json
    result = parse_inbound(topic, payload, RECV, SITE, T)
    assert isinstance(result, (Scan, DeadLetter))
    assert not isinstance(result, DeadLetter) or result.code in DEADLETTER_CODES, result.reason
    if isinstance(result, Scan):
        assert np.isfinite(result.z).all() and np.isfinite(result.R).all()


# --- generated valid messages ------------------------------------------------------------

radar_detection = st.fixed_dictionaries(
    {
        "range_m": st.floats(0.0, 8000.0),
        "bearing_deg": st.floats(0.0, 360.0, exclude_max=True),
        "sigma_range_m": st.floats(0.5, 50.0),
        "sigma_bearing_deg": st.floats(0.05, 3.0),
    },
    optional={"radial_speed_mps": st.floats(-30.0, 30.0), "snr_db": st.floats(-10.0, 60.0)},
)


@settings(max_examples=150, deadline=None)
@given(st.lists(radar_detection, max_size=20), st.integers(0, 2**40), st.floats(-59.0, 3600.0))
def test_generated_radar_scans_parse_and_recover_range_and_bearing(dets: list[dict], seq: int, age_s: float) -> None:
    msg = radar_msg(detections=dets, seq=seq, time=to_iso(T0 - age_s))
    scan = parse(RADAR_TOPIC, msg, recv=T0)
    assert isinstance(scan, Scan) and scan.size == len(dets) and scan.seq == seq
    if not dets:
        return
    tower = SITE.sensor_by_id["tower-02"]
    # Back to geodetic, then into the tower's own ENU frame: range and bearing come back.
    lat, lon = SITE.frame.to_geodetic_2d(scan.z[:, 0], scan.z[:, 1])
    enu_t = LocalFrame(tower.lat, tower.lon).to_enu(lat, lon)
    rng = np.array([d["range_m"] for d in dets])
    np.testing.assert_allclose(np.hypot(enu_t[:, 0], enu_t[:, 1]), rng, atol=0.01)
    far = rng > 1.0
    brg = np.degrees(np.arctan2(enu_t[far, 0], enu_t[far, 1])) % 360.0
    want = np.array([d["bearing_deg"] for d in dets])[far]
    np.testing.assert_allclose((brg - want + 180.0) % 360.0 - 180.0, 0.0, atol=1e-3)
    assert np.all(np.linalg.eigvalsh(scan.R) > 0)


drone_detection = st.fixed_dictionaries(
    {"lat": st.floats(48.95, 49.05), "lon": st.floats(-122.9, -122.6), "sigma_m": st.floats(1.0, 100.0)},
    optional={
        "class": st.sampled_from(["person", "vehicle", "animal", "unknown"]),
        "confidence": st.floats(0.0, 1.0),
        "count": st.integers(1, 50),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(drone_detection, max_size=20))
def test_generated_drone_scans_parse_with_normalised_class_probs(dets: list[dict]) -> None:
    scan = parse(DRONE_TOPIC, drone_msg(detections=dets))
    assert isinstance(scan, Scan) and scan.size == len(dets)
    np.testing.assert_allclose(scan.class_probs.sum(axis=1), 1.0)
    assert (scan.class_probs >= 0).all()
    np.testing.assert_array_equal(scan.count, [d.get("count", 1) for d in dets])


k9_detection = st.fixed_dictionaries(
    {"lat": st.floats(48.95, 49.05), "lon": st.floats(-122.9, -122.6), "sigma_m": st.floats(5.0, 500.0)},
    optional={
        "observed_time_ago_s": st.floats(0.0, 600.0),
        "count": st.integers(1, 30),
        "heading_deg": st.floats(0.0, 360.0, exclude_max=True),
        "narcotics": st.booleans(),
        "note": st.text(max_size=40),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(k9_detection, max_size=10))
def test_generated_k9_reports_parse_with_their_observation_times(dets: list[dict]) -> None:
    wire = []
    for d in dets:
        w = {k: v for k, v in d.items() if k != "observed_time_ago_s"}
        if "observed_time_ago_s" in d:
            w["observed_time"] = to_iso(T0 - d["observed_time_ago_s"])
        wire.append(w)
    scan = parse(K9_TOPIC, k9_msg(detections=wire))
    assert isinstance(scan, Scan) and scan.size == len(dets)
    want = [round(T0 - d.get("observed_time_ago_s", 0.0), 3) for d in dets]  # the wire has milliseconds
    np.testing.assert_allclose(scan.det_time, want, atol=1e-3)
    np.testing.assert_array_equal(scan.narcotics, [d.get("narcotics", False) for d in dets])
    assert scan.notes == tuple(d.get("note", "") for d in dets)
    np.testing.assert_allclose(np.degrees(scan.heading_rad), [d.get("heading_deg", np.nan) for d in dets], atol=1e-9)
