"""Load and validate the YAML site file; bad config fails at start, naming file, line and field.

``load_site`` reports every problem it finds at once, one per line, as
``FILE:LINE: FIELD.PATH: what is wrong (got VALUE)``; for example::

    configs/site.yaml:57: sensors[2].max_range_m: Input should be greater than 0 (got -5)

Three layers of checks:
1. YAML syntax (with file, line and column), and duplicate keys, which plain YAML
   silently resolves to the last value;
2. the ``fusion.site.Site`` model (types, ranges, required fields, unknown keys);
3. geometry that the model alone cannot judge: everything within 100 km of the
   origin (the ENU frame and the tracker assume a local site), valid zone polygons,
   sectors ordered west to east without gaps or overlaps.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.validation import explain_validity

from fusion.site import Site
from fusion.types import SensorType

#: Everything in a site must lie within this distance of the origin (metres).
MAX_SITE_RADIUS_M = 100_000.0


class ConfigError(Exception):
    """A site file that cannot be used; ``errors`` lists each problem (``FILE:LINE: path: message``)."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = str(path)
        self.errors = errors
        head = f"{path}: invalid site file ({len(errors)} problem{'s' if len(errors) != 1 else ''})"
        super().__init__(head + "".join(f"\n  {e}" for e in errors))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# parse_yaml, line_of, describe_error, field_path and read_yaml_mapping are shared with
# simulators/scenario.py, so scenario files report errors the same way as site files.
def parse_yaml(text: str, path: Path) -> tuple[object, yaml.Node | None]:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        raise ConfigError(path, [f"{where}: YAML syntax error: {problem}" + (f" ({context})" if context else "")]) from None
    finally:
        loader.dispose()
    return data, node


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic error location -> ``sensors[2].max_range_m``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    if node is None:
        return None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def describe_error(err: dict) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    loc = err["loc"]
    if loc and loc[-1] == "type" and err["type"] == "enum":
        close = difflib.get_close_matches(str(err.get("input")), [t.value for t in SensorType], n=1)
        if close:
            msg += f"; did you mean {close[0]!r}?"
    if err["type"] == "extra_forbidden":
        msg = "unknown key (misspelt?)"
    elif err["type"] != "missing" and "input" in err and not isinstance(err["input"], (dict, list)):
        msg += f" (got {err['input']!r})"
    return msg


def _geometry_errors(site: Site) -> list[tuple[tuple[int | str, ...], str]]:
    """Checks across fields, on a model that already validated."""
    errs: list[tuple[tuple[int | str, ...], str]] = []

    def too_far(lat: float, lon: float) -> float | None:
        e, n, _ = site.frame.to_enu(lat, lon)
        d = float(np.hypot(e, n))
        return d if d > MAX_SITE_RADIUS_M else None

    for i, s in enumerate(site.sensors):
        if s.lat is not None and s.lon is not None and (d := too_far(s.lat, s.lon)) is not None:
            errs.append((("sensors", i), f"{s.id} is {d / 1000:.0f} km from the origin (limit {MAX_SITE_RADIUS_M / 1000:.0f} km)"))
        if s.max_range_m is not None and s.max_range_m > MAX_SITE_RADIUS_M:
            errs.append((("sensors", i, "max_range_m"), f"{s.max_range_m:g} m is beyond the {MAX_SITE_RADIUS_M:g} m site radius"))
    for i, t in enumerate(site.teams):
        if t.lat is not None and t.lon is not None and (d := too_far(t.lat, t.lon)) is not None:
            errs.append((("teams", i), f"{t.id} is {d / 1000:.0f} km from the origin (limit {MAX_SITE_RADIUS_M / 1000:.0f} km)"))
    for j, (lon, lat) in enumerate(site.border.line.coordinates):
        if (d := too_far(lat, lon)) is not None:
            errs.append((("border", "line", "coordinates", j), f"vertex is {d / 1000:.0f} km from the origin"))
    for i, z in enumerate(site.zones):
        if z.polygon is None:
            continue
        poly = ShapelyPolygon(z.polygon.coordinates[0], z.polygon.coordinates[1:])
        if not poly.is_valid:
            errs.append((("zones", i, "polygon"), f"zone {z.id!r} polygon is not valid: {explain_validity(poly)}"))
        if any(too_far(lat, lon) is not None for lon, lat in z.polygon.coordinates[0]):
            errs.append((("zones", i, "polygon"), f"zone {z.id!r} reaches beyond {MAX_SITE_RADIUS_M / 1000:.0f} km of the origin"))
    for i in range(1, len(site.sectors)):
        prev, cur = site.sectors[i - 1], site.sectors[i]
        if cur.west_lon != prev.east_lon:
            errs.append(
                (("sectors", i, "west_lon"),
                 f"sectors must run west to east without gaps or overlaps: {cur.id!r} starts at {cur.west_lon}, "
                 f"{prev.id!r} ends at {prev.east_lon}")
            )
    return errs


def read_yaml_mapping(path: Path, expected: str) -> tuple[dict, yaml.Node | None]:
    """A YAML file that must be a mapping, with its node tree for line numbers; ``ConfigError`` otherwise.

    ``expected`` names the top-level keys for the message (the site and scenario loaders share this).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"{path}: cannot read: {exc}"]) from None
    data, root = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigError(path, [f"{path}:1: (top level): expected a mapping with {expected} (got {type(data).__name__})"])
    return data, root


def load_site(path: Path | str) -> Site:
    """Read, validate and return the site; raise ``ConfigError`` listing every problem."""
    path = Path(path)
    data, root = read_yaml_mapping(path, "site, border, sensors, ...")

    def where(loc: tuple[int | str, ...]) -> str:
        line = line_of(root, loc)
        return f"{path}:{line}" if line is not None else str(path)

    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            path, [f"{where(e['loc'])}: {field_path(e['loc'])}: {describe_error(e)}" for e in exc.errors(include_url=False)]
        ) from None
    problems = _geometry_errors(site)
    if problems:
        raise ConfigError(path, [f"{where(loc)}: {field_path(loc)}: {msg}" for loc, msg in problems])
    return site
