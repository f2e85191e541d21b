"""Site file loading: the shipped example, and bad files failing with file, line and field."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.site_file import ConfigError, field_path, load_site
from fusion.types import SensorType

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "site.yaml"
EXAMPLE_DATA = yaml.safe_load(EXAMPLE.read_text())


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(path) in str(info.value)
    return info.value.errors


def test_example_site_loads_and_is_what_the_brief_describes() -> None:
    site = load_site(EXAMPLE)
    radars = [s for s in site.sensors if s.type == SensorType.RADAR]
    assert len(radars) == 3
    assert {s.type for s in site.sensors} == {SensorType.RADAR, SensorType.DRONE, SensorType.K9}
    assert site.border.protected_side == "south"
    towers = np.array([site.sensor_enu(s.id) for s in radars])
    assert (towers[:, 1] < -200).all() and (towers[:, 1] > -500).all()  # a few hundred metres south of the line
    np.testing.assert_allclose(np.diff(towers[:, 0]), 8000.0, rtol=0.02)  # ~8 km apart
    assert all(s.max_range_m == 8000 and s.scan_period_s == 2 for s in radars)
    assert {t.kind: t.speed_mps for t in site.teams} == {"vehicle": 12.0, "foot": 1.8}
    assert site.sector_ids() == ["west", "east"]
    assert site.sector_of(np.array([-5000.0, 5000.0])).tolist() == [0, 1]
    assert {z.id for z in site.zones} >= {"buffer-500m"} and {z.kind for z in site.zones} == {"watch", "port_of_entry", "restricted"}
    border = site.border_enu
    assert border[0, 0] < -10_000 and border[-1, 0] > 10_000
    # The parallel curves away from the tangent plane: the ends are ~11 m north of the origin's east axis.
    assert border[3, 1] == pytest.approx(0.0, abs=1e-6) and border[0, 1] == pytest.approx(10.8, abs=0.1)


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "site: {name: x, origin: {lat: 49.0, lon: -122.75}}\nborder: [\n  - a\n  b: c\n")
    (err,) = errors_of(path)
    assert err.startswith(f"{path}:3:3: YAML syntax error: expected the node content, but found '-'")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("  - {id: drone-1, type: drone}", "  - {id: drone-1, type: drone, type: radar}")
    path = write(tmp_path, text)
    (err,) = errors_of(path)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "id: drone-1" in t)
    assert err.startswith(f"{path}:{line}:") and "duplicate key 'type'" in err


def test_every_field_error_is_listed_with_line_and_path(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    text = text.replace("lon: -122.64, alt_m: 30, max_range_m: 8000", "lon: -122.64, alt_m: 30, max_range_m: -8000")
    text = text.replace("{id: drone-1, type: drone}", "{id: drone-1, type: dron}")
    text = text.replace("{id: k9-alpha, type: k9}", "{id: k9-alpha, type: k9, colour: brown}")
    text = text.replace("protected_side: south", "protected_side: southwards")
    path = write(tmp_path, text)
    errs = errors_of(path)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, t in enumerate(lines, 1) if fragment in t)

    assert f"{path}:{line_of('max_range_m: -8000')}: sensors[2].max_range_m: Input should be greater than 0 (got -8000)" in errs
    dron = [e for e in errs if "sensors[3].type" in e]
    assert dron and "did you mean 'drone'" in dron[0] and dron[0].startswith(f"{path}:{line_of('type: dron}')}:")
    assert f"{path}:{line_of('colour: brown')}: sensors[4].colour: unknown key (misspelt?)" in errs
    assert any(e.startswith(f"{path}:{line_of('protected_side')}: border.protected_side:") for e in errs)
    assert len(errs) == 4


def test_missing_required_fields_name_the_field(tmp_path: Path) -> None:
    data = copy.deepcopy(EXAMPLE_DATA)
    del data["border"]["protected_side"]
    data["sensors"][0].pop("lat")
    errs = errors_of(write(tmp_path, yaml.safe_dump(data, sort_keys=False)))
    assert any("border.protected_side: Field required" in e for e in errs)
    assert any("sensors[0]: a radar sensor needs lat and lon" in e for e in errs)


def test_geometry_checks(tmp_path: Path) -> None:
    data = copy.deepcopy(EXAMPLE_DATA)
    data["sensors"][1]["lat"] = 50.2  # ~133 km north
    data["zones"][2]["polygon"]["coordinates"] = [[[-122.70, 48.99], [-122.69, 49.0], [-122.69, 48.99], [-122.70, 49.0], [-122.70, 48.99]]]
    data["sectors"][1]["west_lon"] = -122.74  # gap between west and east
    errs = errors_of(write(tmp_path, yaml.safe_dump(data, sort_keys=False)))
    assert any("sensors[1]: tower-02 is 133 km from the origin (limit 100 km)" in e for e in errs)
    assert any("zones[2].polygon" in e and "not valid" in e and "Self-intersection" in e for e in errs)
    assert any("sectors[1].west_lon" in e and "without gaps" in e for e in errs)
    assert len(errs) == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [("", "expected a mapping"), ("- a\n- b\n", "expected a mapping"), ("just text", "expected a mapping")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, needle: str) -> None:
    (err,) = errors_of(write(tmp_path, text))
    assert needle in err


def test_unreadable_file(tmp_path: Path) -> None:
    (err,) = errors_of(tmp_path / "missing.yaml")
    assert "cannot read" in err
    (err,) = errors_of(write(tmp_path, "", "bin.yaml") if False else _binary(tmp_path))
    assert "cannot read" in err


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00site")
    return path


def test_field_path_format() -> None:
    assert field_path(("sensors", 2, "max_range_m")) == "sensors[2].max_range_m"
    assert field_path(("border", "line", "coordinates", 0, 1)) == "border.line.coordinates[0][1]"
    assert field_path(()) == "(top level)"


def _paths(obj: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(EXAMPLE_DATA)
values = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8) | st.just([]) | st.just({})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(PATHS), values)
def test_any_single_mutation_loads_or_fails_with_config_error(tmp_path: Path, path: tuple, value: object) -> None:
    data = copy.deepcopy(EXAMPLE_DATA)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    file = write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    try:
        load_site(file)
    except ConfigError as exc:
        assert exc.errors and all(e.startswith(str(file)) for e in exc.errors)
