"""Ground truth of a simulated run: object positions at 1 Hz and the events scoring needs.

Events are derived from the same trajectories the sensors sampled, so they agree by
construction: a crossing is where the 1 Hz path changes side of the border line
(time and point interpolated linearly between the two samples), with its direction
and whether it lies in a port of entry (legal); a loitering episode is a person or
vehicle (not legal port traffic) within ``loiter_distance_m`` of the line for at
least ``loiter_min_s``; narcotics carriers are listed by object id.

The truth file is one JSON document (``write_truth``/``load_truth``) that embeds the
site, so ``borderwatch score`` needs nothing else to draw the map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from adapters.timefmt import from_iso, to_iso
from fusion.site import Site
from simulators.border import direction_name, in_any, port_polygons_enu, protected_sign, signed_distance
from simulators.motion import Motion
from simulators.scenario import Scenario

FloatArray = NDArray[np.float64]
TRUTH_FORMAT = "borderwatch-truth/1"


@dataclass(frozen=True, eq=False)
class TruthObject:
    """One object: ``enu`` (k, 2) metres and ``lat``/``lon`` (k,) at ``t_start + i * dt``."""

    id: str
    kind: str
    cls: str
    count: int
    narcotics: bool
    legal: bool
    t_start: float
    enu: FloatArray
    lat: FloatArray
    lon: FloatArray


@dataclass(frozen=True)
class Crossing:
    object_id: str
    time: float
    enu: tuple[float, float]
    lat: float
    lon: float
    direction: str  # southbound | northbound (or east/west for such borders)
    into_protected: bool
    legal: bool
    cls: str
    count: int


@dataclass(frozen=True)
class LoiterEpisode:
    object_id: str
    start: float
    end: float
    min_distance_m: float


@dataclass(eq=False)
class Truth:
    scenario: str
    seed: int
    start: float
    duration_s: float
    dt_s: float
    site: dict
    objects: list[TruthObject]
    crossings: list[Crossing]
    loitering: list[LoiterEpisode]
    narcotics_carriers: list[str]
    faults: list[dict] = field(default_factory=list)

    @property
    def times(self) -> FloatArray:
        """The 1 Hz grid (epoch seconds) on which positions are given."""
        return self.start + np.arange(int(np.floor(self.duration_s / self.dt_s)) + 1) * self.dt_s

    def site_model(self) -> Site:
        return Site.model_validate(self.site)

    def object_by_id(self) -> dict[str, TruthObject]:
        return {o.id: o for o in self.objects}


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open index ranges [i, j) where ``mask`` is True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def build_truth(scenario: Scenario, site: Site, motion: Motion) -> Truth:
    """Sample every object at 1 Hz and derive crossings and loitering from the samples."""
    t0 = scenario.start_time
    grid = np.arange(int(np.floor(scenario.duration_s)) + 1, dtype=float)
    xy = motion.object_positions(grid)  # (T, N, 2)
    line = site.border_enu
    sign_p = protected_sign(site)
    ports = port_polygons_enu(site)
    objects, crossings, loitering = [], [], []
    for j, obj in enumerate(motion.objects):
        active = np.flatnonzero(~np.isnan(xy[:, j, 0]))
        if active.size == 0:
            continue
        i0, i1 = int(active[0]), int(active[-1]) + 1
        en = xy[i0:i1, j]
        lat, lon = site.frame.to_geodetic_2d(en[:, 0], en[:, 1])
        objects.append(TruthObject(obj.id, obj.kind, obj.cls, obj.count, obj.narcotics, obj.legal, t0 + grid[i0], en, lat, lon))
        d = signed_distance(line, en)
        change = np.flatnonzero((np.sign(d[:-1]) * np.sign(d[1:])) < 0)
        if change.size:
            f = d[change] / (d[change] - d[change + 1])
            pts = en[change] + f[:, None] * (en[change + 1] - en[change])
            legal = in_any(ports, pts)
            plat, plon = site.frame.to_geodetic_2d(pts[:, 0], pts[:, 1])
            for k, i in enumerate(change):
                into = bool(np.sign(d[i + 1]) == sign_p)
                crossings.append(
                    Crossing(
                        obj.id,
                        float(t0 + grid[i0 + i] + f[k]),
                        (float(pts[k, 0]), float(pts[k, 1])),
                        float(plat[k]),
                        float(plon[k]),
                        direction_name(site, into),
                        into,
                        bool(legal[k] or obj.legal),
                        obj.cls,
                        obj.count,
                    )
                )
        if obj.cls in ("person", "vehicle") and not obj.legal:
            near = np.abs(d) <= scenario.truth.loiter_distance_m
            for a, b in _runs(near):
                if (b - 1 - a) >= scenario.truth.loiter_min_s:
                    loitering.append(
                        LoiterEpisode(obj.id, float(t0 + grid[i0 + a]), float(t0 + grid[i0 + b - 1]), float(np.min(np.abs(d[a:b]))))
                    )
    crossings.sort(key=lambda c: (c.time, c.object_id))
    return Truth(
        scenario=scenario.name,
        seed=scenario.seed,
        start=t0,
        duration_s=float(scenario.duration_s),
        dt_s=1.0,
        site=site.model_dump(mode="json", exclude_defaults=True),
        objects=objects,
        crossings=crossings,
        loitering=loitering,
        narcotics_carriers=[o.id for o in objects if o.narcotics],
        faults=[f.model_dump(mode="json") for f in scenario.faults],
    )


def truth_to_dict(truth: Truth) -> dict:
    r2 = lambda a: [round(float(v), 2) for v in a]  # noqa: E731 - centimetres
    r7 = lambda a: [round(float(v), 7) for v in a]  # noqa: E731 - ~1 cm in degrees
    return {
        "format": TRUTH_FORMAT,
        "scenario": truth.scenario,
        "seed": truth.seed,
        "start": to_iso(truth.start),
        "duration_s": truth.duration_s,
        "dt_s": truth.dt_s,
        "site": truth.site,
        "objects": [
            {
                "id": o.id,
                "kind": o.kind,
                "class": o.cls,
                "count": o.count,
                "narcotics": o.narcotics,
                "legal": o.legal,
                "t_start": to_iso(o.t_start),
                "east_m": r2(o.enu[:, 0]),
                "north_m": r2(o.enu[:, 1]),
                "lat": r7(o.lat),
                "lon": r7(o.lon),
            }
            for o in truth.objects
        ],
        "events": [
            {
                "type": "crossing",
                "object_id": c.object_id,
                "time": to_iso(c.time),
                "lat": round(c.lat, 7),
                "lon": round(c.lon, 7),
                "east_m": round(c.enu[0], 2),
                "north_m": round(c.enu[1], 2),
                "direction": c.direction,
                "into_protected": c.into_protected,
                "legal": c.legal,
                "class": c.cls,
                "count": c.count,
            }
            for c in truth.crossings
        ]
        + [
            {
                "type": "loitering",
                "object_id": e.object_id,
                "start": to_iso(e.start),
                "end": to_iso(e.end),
                "min_distance_m": round(e.min_distance_m, 2),
            }
            for e in truth.loitering
        ]
        + [{"type": "narcotics_carrier", "object_id": i} for i in truth.narcotics_carriers],
        "faults": truth.faults,
    }


def truth_from_dict(d: dict) -> Truth:
    if d.get("format") != TRUTH_FORMAT:
        raise ValueError(f"not a truth file (format {d.get('format')!r}, expected {TRUTH_FORMAT!r})")
    objects = [
        TruthObject(
            o["id"],
            o["kind"],
            o["class"],
            int(o["count"]),
            bool(o["narcotics"]),
            bool(o["legal"]),
            from_iso(o["t_start"]),
            np.column_stack([o["east_m"], o["north_m"]]).astype(float).reshape(-1, 2),
            np.asarray(o["lat"], dtype=float),
            np.asarray(o["lon"], dtype=float),
        )
        for o in d["objects"]
    ]
    ev = d["events"]
    crossings = [
        Crossing(
            e["object_id"],
            from_iso(e["time"]),
            (float(e["east_m"]), float(e["north_m"])),
            float(e["lat"]),
            float(e["lon"]),
            e["direction"],
            bool(e["into_protected"]),
            bool(e["legal"]),
            e["class"],
            int(e["count"]),
        )
        for e in ev
        if e["type"] == "crossing"
    ]
    loitering = [
        LoiterEpisode(e["object_id"], from_iso(e["start"]), from_iso(e["end"]), float(e["min_distance_m"]))
        for e in ev
        if e["type"] == "loitering"
    ]
    return Truth(
        scenario=d["scenario"],
        seed=int(d["seed"]),
        start=from_iso(d["start"]),
        duration_s=float(d["duration_s"]),
        dt_s=float(d["dt_s"]),
        site=d["site"],
        objects=objects,
        crossings=crossings,
        loitering=loitering,
        narcotics_carriers=[e["object_id"] for e in ev if e["type"] == "narcotics_carrier"],
        faults=d.get("faults", []),
    )


def write_truth(truth: Truth, path: Path | str) -> None:
    """Write the truth as one compact JSON document (deterministic bytes)."""
    Path(path).write_text(json.dumps(truth_to_dict(truth), separators=(",", ":")) + "\n", encoding="utf-8")


def load_truth(path: Path | str) -> Truth:
    return truth_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
