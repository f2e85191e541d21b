"""Scenario files: what a simulation runs (site, time, seed, sensor models, targets, faults).

A scenario is YAML validated by the pydantic models below; ``scenario_json_schema()``
exports their JSON Schema. ``load_scenario(path)`` reports every problem at once as
``FILE:LINE: field.path: message`` (the same format as the site file loader), and
resolves ``site:`` relative to the scenario file into ``Scenario.site_path``.

Units: metres, seconds, metres per second; positions are WGS84 ``lat``/``lon`` degrees;
times within the run are seconds after ``start`` (``start_s``, ``end_s``).
Sensor ids must be sensors of the site file with the same type (checked by
``check_against_site``). A site radar that the scenario does not list is simulated
with the default radar model (towers run whether or not a scenario mentions them);
drones and K-9 teams run only when listed (they need a route).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.site_file import ConfigError, describe_error, field_path, line_of, read_yaml_mapping
from adapters.timefmt import from_iso
from fusion.site import Lat, Lon, Site

NonNeg = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0)]
ClassName = Literal["person", "vehicle", "animal", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Waypoint(_Model):
    """A route point; a target may stop here ``dwell_s`` seconds, milling within ``wander_m``."""

    lat: Lat
    lon: Lon
    dwell_s: NonNeg = 0.0
    wander_m: NonNeg = 0.0


# ---------------------------------------------------------------- targets


class RouteTarget(_Model):
    """A target following a route at a speed, then leaving the scene at its last point.

    ``walker``: one person. ``group``: ``size`` people within about ``spread_m`` of each
    other. ``vehicle``: one vehicle. ``loiterer``: one person who dwells at a waypoint
    (``dwell_s``/``wander_m``) before moving on. ``speed_jitter`` is the relative
    standard deviation of the speed of each route leg.
    """

    id: str = Field(min_length=1)
    kind: Literal["walker", "group", "vehicle", "loiterer"]
    route: list[Waypoint] = Field(min_length=2)
    start_s: NonNeg = 0.0
    speed_mps: Pos | None = None  # default by kind: walker/loiterer 1.3, group 1.1, vehicle 12
    speed_jitter: Annotated[float, Field(ge=0.0, le=0.5)] = 0.1
    size: Annotated[int, Field(ge=1, le=50)] = 1
    spread_m: NonNeg = 4.0
    narcotics: bool = False

    @model_validator(mode="after")
    def _size_for_groups(self) -> "RouteTarget":
        if self.kind != "group" and self.size != 1:
            raise ValueError(f"size applies to groups only (a {self.kind} is one target)")
        return self


class Area(_Model):
    lat: Lat
    lon: Lon
    radius_m: Pos


class WildlifeTarget(_Model):
    """``count`` animals, each wandering independently between random points of ``area``,
    pausing to graze (``pause_s``: mean pause at each point)."""

    id: str = Field(min_length=1)
    kind: Literal["wildlife"]
    area: Area
    count: Annotated[int, Field(ge=1, le=500)] = 1
    start_s: NonNeg = 0.0
    speed_mps: Pos = 0.8
    pause_s: NonNeg = 60.0


class PortTraffic(_Model):
    """Legal vehicles through a port of entry: Poisson arrivals at ``rate_per_hour`` between
    ``start_s`` and ``end_s``, each following ``route`` (which should cross the line inside
    a ``port_of_entry`` zone of the site; such crossings are legal in the truth). Each vehicle
    has one speed (``speed_jitter`` relative spread) and waits its turn at the first waypoint
    with ``dwell_s`` (the booth), ``queue_spacing_m`` behind the vehicle in front."""

    id: str = Field(min_length=1)
    kind: Literal["port_traffic"]
    route: list[Waypoint] = Field(min_length=2)
    rate_per_hour: Pos = 30.0
    start_s: NonNeg = 0.0
    end_s: NonNeg | None = None
    speed_mps: Pos = 6.0
    speed_jitter: Annotated[float, Field(ge=0.0, le=0.5)] = 0.15
    queue_spacing_m: Pos = 10.0  # vehicles queue first-in first-out at the first dwell waypoint (the booth)


Target = Annotated[RouteTarget | WildlifeTarget | PortTraffic, Field(discriminator="kind")]

# ---------------------------------------------------------------- sensors


class PdByClass(_Model):
    person: Prob = 0.9
    vehicle: Prob = 0.97
    animal: Prob = 0.8


class TerrainMask(_Model):
    """Radar shadow: nothing is seen beyond ``beyond_m`` between two bearings (clockwise)."""

    from_deg: Annotated[float, Field(ge=0.0, lt=360.0)]
    to_deg: Annotated[float, Field(ge=0.0, lt=360.0)]
    beyond_m: NonNeg = 0.0


class RadarModel(_Model):
    """A ground-surveillance radar on a tower of the site file.

    Detection probability of a target at ground range r:
    ``Pd(r) = pd[class]`` for ``r <= pd_full_range_m`` and falls linearly to
    ``pd[class] * pd_edge_factor`` at ``max_range_m``; 0 beyond, inside ``min_range_m``
    and in a terrain mask. Targets in one resolution cell (``resolution_range_m`` by
    ``resolution_bearing_deg``) merge into one detection at their mean position.
    False detections: Poisson with mean ``clutter_per_scan`` per scan, uniform in area
    over the coverage annulus. Noise: Gaussian in range and bearing with the sigmas the
    messages report. ``max_range_m``, ``scan_period_s`` and the clutter rate default
    to the site file (clutter: its ``clutter_density_per_m2`` times the covered area).
    """

    id: str = Field(min_length=1)
    type: Literal["radar"]
    scan_period_s: Pos | None = None
    max_range_m: Pos | None = None
    min_range_m: NonNeg = 50.0
    sigma_range_m: Pos = 7.5
    sigma_bearing_deg: Pos = 0.4
    sigma_radial_speed_mps: Pos = 0.3
    pd: PdByClass = PdByClass()
    pd_full_range_m: Pos | None = None  # default: 60 % of max_range_m
    pd_edge_factor: Prob = 0.5
    clutter_per_scan: NonNeg | None = None
    resolution_range_m: Pos = 15.0
    resolution_bearing_deg: Pos = 1.5
    terrain_mask: list[TerrainMask] = Field(default_factory=list)
    latency_s: NonNeg = 0.1
    phase_s: NonNeg = 0.0  # first scan this long after the start


class ConfusionRow(_Model):
    person: Prob = 0.0
    vehicle: Prob = 0.0
    animal: Prob = 0.0
    unknown: Prob = 0.0


def _default_confusion() -> dict[str, ConfusionRow]:
    return {
        "person": ConfusionRow(person=0.85, animal=0.05, unknown=0.10),
        "vehicle": ConfusionRow(vehicle=0.95, unknown=0.05),
        "animal": ConfusionRow(animal=0.80, person=0.10, unknown=0.10),
    }


class DroneModel(_Model):
    """A patrol drone flying ``route`` (looping) at ``speed_mps``; its camera sees targets
    within ``footprint_radius_m`` of the point below it with probability ``pd`` per report,
    geo-locates them with Gaussian noise ``sigma_m`` and labels them by ``confusion``
    (rows: true class, columns: reported class probabilities). A group is one detection
    with its head count (counted right with probability ``count_accuracy``, else off by one)."""

    id: str = Field(min_length=1)
    type: Literal["drone"]
    route: list[Waypoint] = Field(min_length=1)
    loop: bool = True
    speed_mps: Pos = 12.0
    alt_m: NonNeg = 120.0
    start_s: NonNeg = 0.0
    end_s: NonNeg | None = None
    report_period_s: Pos = 2.0
    footprint_radius_m: Pos = 300.0
    pd: Prob = 0.9
    sigma_m: Pos = 12.0
    confusion: dict[Literal["person", "vehicle", "animal"], ConfusionRow] = Field(default_factory=_default_confusion)
    count_accuracy: Prob = 0.8
    latency_s: NonNeg = 0.3

    @model_validator(mode="after")
    def _rows_sum_to_one(self) -> "DroneModel":
        for cls, row in self.confusion.items():
            total = row.person + row.vehicle + row.animal + row.unknown
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"confusion row {cls!r} sums to {total:g}, not 1")
        return self


class K9Model(_Model):
    """A K-9 team walking ``route``. The dog finds a person's trail when the handler passes
    within ``detect_radius_m`` of a point the person walked at most ``freshness_s`` ago
    (probability ``pd`` per trail); the handler radios it in ``delay_s`` later (uniform
    between the bounds). The report gives the trail point with noise ``sigma_m``, when it
    was laid (``observed_time``), head count, heading, and ``narcotics`` if a carrier
    left it. Each trail is reported once."""

    id: str = Field(min_length=1)
    type: Literal["k9"]
    route: list[Waypoint] = Field(min_length=1)
    loop: bool = True
    speed_mps: Pos = 1.2
    start_s: NonNeg = 0.0
    end_s: NonNeg | None = None
    detect_radius_m: Pos = 150.0
    freshness_s: Annotated[float, Field(gt=0.0, le=300.0)] = 240.0
    pd: Prob = 0.9
    delay_s: tuple[NonNeg, NonNeg] = (30.0, 300.0)
    sigma_m: Pos = 120.0
    latency_s: NonNeg = 0.5

    @model_validator(mode="after")
    def _delay_ordered(self) -> "K9Model":
        lo, hi = self.delay_s
        if lo > hi:
            raise ValueError("delay_s must be [min, max] with min <= max")
        if self.freshness_s + hi > 600.0:
            raise ValueError("freshness_s + max delay_s must be at most 600 s (the contract's observed_time limit)")
        return self


SensorModel = Annotated[RadarModel | DroneModel | K9Model, Field(discriminator="type")]

# ---------------------------------------------------------------- faults


class _Fault(_Model):
    sensor: str = Field(min_length=1)
    start_s: NonNeg = 0.0
    end_s: NonNeg | None = None  # default: the end of the run


class OfflineFault(_Fault):
    """The sensor sends nothing; its last will ``{"state":"offline"}`` arrives ``will_delay_s``
    after it dies (the broker's keep-alive timeout); it reports online again at ``end_s``."""

    kind: Literal["offline"]
    will_delay_s: NonNeg = 15.0


class DelayFault(_Fault):
    """Messages arrive ``extra_latency_s`` later than usual (a congested link)."""

    kind: Literal["delay"]
    extra_latency_s: Pos = 5.0


class DuplicateFault(_Fault):
    """Each message is delivered twice with probability ``probability`` (QoS 1 redelivery)."""

    kind: Literal["duplicate"]
    probability: Prob = 0.1
    gap_s: NonNeg = 0.5


class ReorderFault(_Fault):
    """With ``probability`` a message is held back ``hold_s`` and overtaken by later ones."""

    kind: Literal["reorder"]
    probability: Prob = 0.1
    hold_s: Pos = 3.0


class ClutterBurstFault(_Fault):
    """Radar clutter rate multiplied by ``factor`` (rain, birds, a jammer)."""

    kind: Literal["clutter_burst"]
    factor: Annotated[float, Field(ge=1.0)] = 20.0


Fault = Annotated[
    OfflineFault | DelayFault | DuplicateFault | ReorderFault | ClutterBurstFault, Field(discriminator="kind")
]

# ---------------------------------------------------------------- teams, truth, scenario


class TeamsModel(_Model):
    """Field teams of the site report their position every ``report_period_s`` (static at
    their site position; ``unavailable`` lists team ids that report ``available: false``)."""

    report_period_s: Pos = 30.0
    unavailable: list[str] = Field(default_factory=list)
    latency_s: NonNeg = 0.2


class TruthSettings(_Model):
    """How truth events are derived from trajectories: loitering is a person or vehicle
    within ``loiter_distance_m`` of the line for at least ``loiter_min_s``."""

    loiter_distance_m: Pos = 100.0
    loiter_min_s: Pos = 300.0


class Scenario(_Model):
    """A whole scenario file (see the module docstring); ``site_path`` is set by the loader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    site: str = Field(min_length=1, description="site file path, relative to the scenario file")
    start: str = Field(description="ISO 8601 UTC start time, e.g. 2026-11-25T03:00:00Z")
    duration_s: Pos
    seed: Annotated[int, Field(ge=0)] = 0
    sensors: list[SensorModel] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    teams: TeamsModel = TeamsModel()
    truth: TruthSettings = TruthSettings()
    base_dir: str | None = Field(default=None, exclude=True, description="set by the loader; not a YAML key")

    @model_validator(mode="after")
    def _check(self) -> "Scenario":
        try:
            from_iso(self.start)
        except ValueError as exc:
            raise ValueError(f"start: {exc}") from None
        ids = [t.id for t in self.targets]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"target ids appear twice: {sorted(dup)}")
        sids = [s.id for s in self.sensors]
        dup = {i for i in sids if sids.count(i) > 1}
        if dup:
            raise ValueError(f"sensor ids appear twice: {sorted(dup)}")
        return self

    @property
    def start_time(self) -> float:
        """Start as UTC epoch seconds."""
        return from_iso(self.start)

    @property
    def site_path(self) -> Path:
        base = Path(self.base_dir) if self.base_dir else Path.cwd()
        return (base / self.site).resolve()


def check_against_site(scenario: Scenario, site: Site) -> list[str]:
    """Problems between a scenario and its site: unknown sensor/team ids or wrong types."""
    problems = []
    for i, s in enumerate(scenario.sensors):
        spec = site.sensor_by_id.get(s.id)
        if spec is None:
            problems.append(f"sensors[{i}].id: {s.id!r} is not a sensor of the site ({', '.join(site.sensor_by_id)})")
        elif spec.type.value != s.type:
            problems.append(f"sensors[{i}].type: {s.id!r} is a {spec.type.value} in the site, not a {s.type}")
    for i, f in enumerate(scenario.faults):
        if f.sensor not in site.sensor_by_id:
            problems.append(f"faults[{i}].sensor: {f.sensor!r} is not a sensor of the site")
    team_ids = {t.id for t in site.teams}
    for team in scenario.teams.unavailable:
        if team not in team_ids:
            problems.append(f"teams.unavailable: {team!r} is not a team of the site")
    return problems


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario YAML; raise ``ConfigError`` naming file, line and field."""
    path = Path(path)
    data, root = read_yaml_mapping(path, "name, site, start, ...")
    if "base_dir" in data:
        raise ConfigError(path, [f"{path}:{line_of(root, ('base_dir',))}: base_dir: unknown key (misspelt?)"])
    try:
        return Scenario.model_validate({**data, "base_dir": str(path.resolve().parent)})
    except ValidationError as exc:
        errors = []
        for e in exc.errors(include_url=False):
            line = line_of(root, e["loc"])
            errors.append(f"{path}:{line}: {field_path(e['loc'])}: {describe_error(e)}")
        raise ConfigError(path, errors) from None


def scenario_json_schema() -> dict:
    """JSON Schema of scenario files (``base_dir`` is internal and left out)."""
    schema = Scenario.model_json_schema()
    schema.get("properties", {}).pop("base_dir", None)
    schema["title"] = "Borderwatch scenario"
    return schema
