"""Wire models, their JSON Schema export, the documented examples, and outbound payloads."""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.ingest import DeadLetter
from adapters.recording import canonical_json
from adapters.schemas import (
    WIRE_MODELS,
    AlertMessage,
    DeadLetterMessage,
    DispatchMessage,
    RadarDetections,
    TrackMessage,
    json_schema,
    write_schemas,
)
from adapters.site_file import load_site
from borderwatch.cli import COMMAND_MODULES
from borderwatch.commands import schema as schema_command
from fusion.site import Site
from fusion.types import AlertReport, DispatchReport, TrackReport, TrackStatus

ROOT = Path(__file__).resolve().parents[1]
SITE = load_site(ROOT / "configs" / "site.yaml")
T0 = 1_795_615_200.0


def _doc_examples() -> list[tuple[str, dict]]:
    """``<!-- schema: NAME -->`` + a json code block in docs/mqtt-api.md, as (NAME, object)."""
    text = (ROOT / "docs" / "mqtt-api.md").read_text(encoding="utf-8")
    pairs = re.findall(r"<!-- schema: (\w+) -->\s*```json\n(.*?)```", text, flags=re.DOTALL)
    return [(name, json.loads(body)) for name, body in pairs]


DOC_EXAMPLES = _doc_examples()


@functools.lru_cache(maxsize=None)
def validator(model: type) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema(model))


def test_docs_have_an_example_of_every_wire_message() -> None:
    assert {name for name, _ in DOC_EXAMPLES} == set(WIRE_MODELS)
    text = (ROOT / "docs" / "mqtt-api.md").read_text(encoding="utf-8")
    for body in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL):
        json.loads(body)  # every json block is copy-paste valid


@pytest.mark.parametrize(("name", "example"), DOC_EXAMPLES, ids=[n for n, _ in DOC_EXAMPLES])
def test_doc_examples_validate_against_models_and_exported_schemas(name: str, example: dict) -> None:
    WIRE_MODELS[name].model_validate(example)
    validator(WIRE_MODELS[name]).validate(example)


def test_write_schemas_writes_one_file_per_message_plus_site(tmp_path: Path) -> None:
    paths = write_schemas(tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted([f"{n}.schema.json" for n in WIRE_MODELS] + ["site.schema.json"])
    for p in paths:
        schema = json.loads(p.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
    track = json.loads((tmp_path / "out" / "track.schema.json").read_text())
    assert "class" in track["properties"] and "class_" not in track["properties"]
    assert track["properties"]["time"]["format"] == "date-time"


def test_site_schema_accepts_the_example_site_file() -> None:
    import yaml

    data = yaml.safe_load((ROOT / "configs" / "site.yaml").read_text())
    jsonschema.Draft202012Validator(json_schema(Site)).validate(data)


def test_schema_command_prints_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The command module alone (the full CLI imports every other command too).
    parser = argparse.ArgumentParser()
    schema_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["schema", "--out", str(tmp_path)])
    assert "schema" in COMMAND_MODULES
    assert args.func(args) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == len(WIRE_MODELS) + 1 and all(Path(p).exists() for p in printed)


def test_exported_schema_refuses_what_the_model_refuses() -> None:
    validator = jsonschema.Draft202012Validator(json_schema(RadarDetections))
    good = {"sensor_id": "t", "seq": 1, "time": "2026-11-25T14:00:00Z", "detections": [
        {"range_m": 1.0, "bearing_deg": 359.9, "sigma_range_m": 1.0, "sigma_bearing_deg": 1.0}]}
    validator.validate(good)
    for field, bad in (("range_m", -1.0), ("bearing_deg", 360.0), ("sigma_range_m", 0.0), ("range_m", "5")):
        msg = json.loads(json.dumps(good))
        msg["detections"][0][field] = bad
        assert not validator.is_valid(msg)
        with pytest.raises(ValidationError):
            RadarDetections.model_validate(msg)


def test_times_serialise_back_to_z() -> None:
    msg = RadarDetections.model_validate(
        {"sensor_id": "t", "seq": 0, "time": "2026-11-25T06:00:00.250-08:00", "detections": []}
    )
    assert msg.time == T0 + 0.25
    assert json.loads(msg.model_dump_json(by_alias=True))["time"] == "2026-11-25T14:00:00.250Z"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "1.0", None])
def test_numbers_are_strict_and_finite(bad: object) -> None:
    with pytest.raises(ValidationError):
        RadarDetections.model_validate({"sensor_id": "t", "seq": 0, "time": "2026-11-25T14:00:00Z", "detections": [
            {"range_m": bad, "bearing_deg": 1.0, "sigma_range_m": 1.0, "sigma_bearing_deg": 1.0}]})


# --- outbound payloads ---------------------------------------------------------------


def _track(x: np.ndarray, P: np.ndarray, **over: object) -> TrackReport:
    fields = dict(track_id="T-000001", time=T0, status=TrackStatus.CONFIRMED, x=x, P=P, existence=0.97,
                  class_probs=np.array([0.7, 0.1, 0.1, 0.1]), sensors=("tower-02", "drone-1"), sector="west")
    fields.update(over)
    return TrackReport(**fields)


def test_track_payload_matches_the_contract_example_shape() -> None:
    from adapters.wire_out import track_payload

    r = _track(np.array([0.0, 200.0, -0.4, -1.3]), np.diag([110.0, 95.0, 1.0, 1.0]), model_probs=np.array([0.8, 0.2]))
    p = track_payload(r, SITE)
    assert list(p)[:12] == ["track_id", "time", "status", "lat", "lon", "vel_east_mps", "vel_north_mps", "cov_en_m2",
                            "existence", "class", "sensors", "sector"]
    assert p["time"] == "2026-11-25T14:00:00.000Z" and p["status"] == "confirmed" and p["class"] == "person"
    assert p["lon"] == -122.75 and p["lat"] == pytest.approx(49.0018, abs=1e-4)
    # At the origin meridian the site frame and true north agree.
    assert (p["vel_east_mps"], p["vel_north_mps"]) == (-0.4, -1.3)
    assert p["cov_en_m2"] == [[110.0, 0.0], [0.0, 95.0]]
    assert p["speed_mps"] == pytest.approx(1.36, abs=0.001) and p["heading_deg"] == pytest.approx(197.1, abs=0.05)
    assert p["model_probs"] == [0.8, 0.2] and p["count"] == 1
    TrackMessage.model_validate(p)


@settings(max_examples=150, deadline=None)
@given(
    st.floats(-15_000, 15_000), st.floats(-8_000, 8_000), st.floats(-40, 40), st.floats(-40, 40),
    st.floats(0.1, 1e4), st.floats(0.1, 1e4), st.floats(-0.99, 0.99), st.floats(0.0, 1.0),
)
def test_track_payload_round_trips_position_speed_and_covariance(
    e: float, n: float, ve: float, vn: float, sx: float, sy: float, rho: float, existence: float
) -> None:
    from adapters.wire_out import track_payload

    cxy = rho * math.sqrt(sx * sy)
    r = _track(np.array([e, n, ve, vn]), np.array([[sx, cxy, 0, 0], [cxy, sy, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
               existence=existence)
    p = track_payload(r, SITE)
    TrackMessage.model_validate(p)
    assert canonical_json(p) == canonical_json(track_payload(r, SITE))  # deterministic bytes
    back = SITE.frame.to_enu(p["lat"], p["lon"])
    assert math.hypot(back[0] - e, back[1] - n) < 0.02  # 7 decimals of a degree is ~1 cm
    assert p["speed_mps"] == pytest.approx(math.hypot(ve, vn), abs=0.002)
    assert math.hypot(p["vel_east_mps"], p["vel_north_mps"]) == pytest.approx(math.hypot(ve, vn), abs=0.002)
    cov = np.array(p["cov_en_m2"])
    # A rotation keeps trace and determinant (to the 0.01 m^2 rounding).
    assert np.trace(cov) == pytest.approx(sx + sy, abs=0.02)
    assert cov[0, 1] == cov[1, 0]
    assert 0.0 <= p["heading_deg"] < 360.0


def test_track_velocity_is_rotated_to_true_north_at_the_track() -> None:
    """Due grid-north 8 km east of the origin is 0.08 degrees east of true north there."""
    from adapters.wire_out import track_payload

    p = track_payload(_track(np.array([8000.0, 0.0, 0.0, 10.0]), np.eye(4)), SITE)
    gamma = float(SITE.frame.grid_rotation_rad(p["lat"], p["lon"]))
    assert gamma < 0
    assert p["heading_deg"] == pytest.approx(round(-math.degrees(gamma), 1), abs=1e-9)
    assert p["vel_east_mps"] == pytest.approx(-10 * math.sin(gamma), abs=0.001)


def test_alert_payload_has_every_field_and_merges_extras() -> None:
    from adapters.wire_out import alert_payload

    a = AlertReport("A-000045", "new", "predicted_crossing", "high", T0 + 1.0, ("T-000123",), np.array([0.0, 230.0]),
                    direction="southbound", eta_s=139.96, crossing_enu=np.array([-50.0, 0.0]), zone_id="buffer-500m",
                    summary="1 person heading south", extra={"acks": np.int64(2), "alert_id": "X", "p": np.array([0.5, np.nan])})
    p = alert_payload(a, SITE)
    assert list(p)[:15] == ["alert_id", "state", "kind", "severity", "time", "track_ids", "lat", "lon", "direction", "eta_s",
                            "crossing_point", "zone_id", "sensor_id", "summary", "acks"]
    assert p["alert_id"] == "A-000045" and p["eta_s"] == 140.0 and p["sensor_id"] is None
    assert p["acks"] == 2 and p["p"] == [0.5, None]
    assert p["crossing_point"]["lat"] == pytest.approx(49.0, abs=1e-6)
    AlertMessage.model_validate(p)
    canonical_json(p)

    offline = AlertReport("A-000046", "end", "sensor_offline", "medium", T0, (), None, sensor_id="tower-01")
    q = alert_payload(offline, SITE)
    assert (q["lat"], q["lon"], q["crossing_point"], q["eta_s"], q["direction"]) == (None, None, None, None, None)
    AlertMessage.model_validate(q)


def test_dispatch_and_deadletter_payloads() -> None:
    from adapters.wire_out import deadletter_payload, dispatch_payload

    d = DispatchReport("D-000007", "A-000045", "unit-7", T0 + 2.0, "update", np.array([100.0, 230.0]),
                       np.array([90.0, -400.0]), 95.04, "intercept south of the line")
    p = dispatch_payload(d, SITE)
    assert p["state"] == "update" and p["intercept"]["eta_s"] == 95.0 and set(p["target"]) == {"lat", "lon"}
    DispatchMessage.model_validate(p)
    unreachable = dispatch_payload(DispatchReport("D-8", "A-1", "foot-3", T0, "new", np.zeros(2), np.zeros(2), math.inf), SITE)
    assert unreachable["intercept"]["eta_s"] is None
    canonical_json(unreachable)

    dl = deadletter_payload(DeadLetter(T0 + 0.12, "bw/v1/x", "schema: seq: Input should be a valid integer", "{}"))
    assert dl == {"time": "2026-11-25T14:00:00.120Z", "topic": "bw/v1/x", "reason": "schema: seq: Input should be a valid integer",
                  "payload_excerpt": "{}", "code": "schema"}
    DeadLetterMessage.model_validate(dl)


finite = st.floats(-1e7, 1e7, allow_nan=False) | st.integers(-10, 400)


@settings(max_examples=300, deadline=None)
@given(finite, finite, finite, finite, st.one_of(st.none(), finite))
def test_exported_radar_schema_agrees_with_the_model(r: float, b: float, sr: float, sb: float, v: float | None) -> None:
    """A consumer validating with the JSON Schema accepts exactly what the service accepts."""
    det = {"range_m": r, "bearing_deg": b, "sigma_range_m": sr, "sigma_bearing_deg": sb}
    if v is not None:
        det["radial_speed_mps"] = v
    msg = {"sensor_id": "tower-02", "seq": 3, "time": "2026-11-25T14:00:00.000Z", "detections": [det]}
    try:
        RadarDetections.model_validate(msg)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert validator(RadarDetections).is_valid(msg) == model_ok


@settings(max_examples=200, deadline=None)
@given(st.floats(-100, 100) | st.integers(-200, 200), st.floats(-200, 200) | st.integers(-200, 200),
       st.floats(-1, 1e6) | st.integers(-5, 5), st.one_of(st.none(), st.floats(-1, 2)), st.one_of(st.none(), st.integers(-2, 3)),
       st.sampled_from(["person", "vehicle", "animal", "unknown", "ghost", 3]))
def test_exported_drone_schema_agrees_with_the_model(lat, lon, sigma, conf, count, cls) -> None:  # noqa: ANN001
    from adapters.schemas import DroneDetections

    det: dict = {"lat": lat, "lon": lon, "sigma_m": sigma, "class": cls}
    if conf is not None:
        det["confidence"] = conf
    if count is not None:
        det["count"] = count
    msg = {"sensor_id": "drone-1", "seq": 0, "time": "2026-11-25T14:00:00Z", "platform": {"lat": 49.0, "lon": -122.75}, "detections": [det]}
    try:
        DroneDetections.model_validate(msg)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert validator(DroneDetections).is_valid(msg) == model_ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-11-25T14:00:00Z", True),
        ("2026-11-25T14:00:00.250Z", True),
        ("2026-11-25T06:00:00.123456789-08:00", True),
        ("2026-11-25T14:00:00+00:00", True),
        ("2026-11-25T14:00:00", False),  # no offset: ambiguous
        ("2026-11-25T14:00Z", False),  # no seconds
        ("2026-11-25 14:00:00Z", False),
        ("20261125T140000Z", False),
        ("2026-11-25T14:00:00Z\n", False),
        ("2026-02-30T14:00:00Z", False),
        ("yesterday", False),
    ],
)
def test_time_forms(text: str, ok: bool) -> None:
    msg = {"time": text, "lat": 49.0, "lon": -122.75}
    from adapters.schemas import TeamPositionMessage

    try:
        TeamPositionMessage.model_validate(msg)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert model_ok == ok
    # A pattern cannot know the calendar; and Python's re (used by jsonschema here, unlike
    # ECMA-262) lets "$" match before a final newline.
    if text not in ("2026-02-30T14:00:00Z", "2026-11-25T14:00:00Z\n"):
        assert validator(TeamPositionMessage).is_valid(msg) == ok


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-15_000, 15_000), st.floats(-8_000, 8_000), st.floats(-30, 30), st.floats(-30, 30),
                          st.floats(0.0, 1.0), st.booleans()), min_size=1, max_size=12))
def test_batch_track_payloads_equal_single_ones_byte_for_byte(rows: list[tuple]) -> None:
    from adapters.wire_out import track_payload, track_payloads

    reports = [
        _track(np.array([e, n, ve, vn]), np.diag([50.0 + i, 40.0, 1.0, 1.0]), existence=ex, track_id=f"T-{i:06d}",
               model_probs=np.array([0.6, 0.4]) if imm else None)
        for i, (e, n, ve, vn, ex, imm) in enumerate(rows)
    ]
    batch = track_payloads(reports, SITE)
    assert [canonical_json(p) for p in batch] == [canonical_json(track_payload(r, SITE)) for r in reports]
    assert track_payloads([], SITE) == []
