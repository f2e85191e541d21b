"""The site file as a validated model (CONTRACT.md "Site file"), plus its ENU view.

The YAML is read at the edge (``adapters.site_file``); this module only validates
and derives geometry, so the core and the tests can build a ``Site`` from a dict.
Fields beyond the contract are optional extensions (sectors, tracker and alert
settings) with defaults that reproduce the contract's behaviour.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fusion.geodesy import LocalFrame
from fusion.types import SensorType

Lat = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False)]
Metres = Annotated[float, Field(allow_inf_nan=False)]
PositiveMetres = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Model(BaseModel):
    # Unknown keys in a site file are almost always typos: refuse them, naming the key.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Origin(_Model):
    lat: Lat
    lon: Lon
    alt_m: Metres = 0.0


class SiteInfo(_Model):
    name: str = Field(min_length=1)
    origin: Origin


class LineString(_Model):
    """GeoJSON LineString, coordinates as [lon, lat] pairs."""

    type: Literal["LineString"]
    coordinates: list[tuple[Lon, Lat]] = Field(min_length=2)


class Polygon(_Model):
    """GeoJSON Polygon: rings of [lon, lat], the first the outer boundary."""

    type: Literal["Polygon"]
    coordinates: list[list[tuple[Lon, Lat]]] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _rings_closed(cls, rings: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError("each polygon ring needs at least 4 positions and must end where it starts")
        return rings


class Border(_Model):
    line: LineString
    protected_side: Literal["north", "south", "east", "west"]


class Zone(_Model):
    """A watched zone: a buffer in metres about the border line, or a polygon.

    ``kind`` extends the contract: ``watch`` (default: incursion alerts),
    ``restricted`` (always alert), ``port_of_entry`` (legal crossings, not alerted).
    """

    id: str = Field(min_length=1)
    buffer_m: PositiveMetres | None = None
    polygon: Polygon | None = None
    kind: Literal["watch", "restricted", "port_of_entry"] = "watch"
    min_existence: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_shape(self) -> "Zone":
        if (self.buffer_m is None) == (self.polygon is None):
            raise ValueError("a zone needs exactly one of buffer_m or polygon")
        return self


class SensorSpec(_Model):
    id: str = Field(min_length=1)
    type: SensorType
    lat: Lat | None = None
    lon: Lon | None = None
    alt_m: Metres = 0.0
    max_range_m: PositiveMetres | None = None
    scan_period_s: PositiveMetres | None = None  # expected report period (radar scan); used for silence alerts
    clutter_density_per_m2: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _radar_is_placed(self) -> "SensorSpec":
        if self.type == SensorType.RADAR and (self.lat is None or self.lon is None):
            raise ValueError("a radar sensor needs lat and lon (the tower position)")
        return self


class TeamSpec(_Model):
    id: str = Field(min_length=1)
    kind: str = "foot"
    lat: Lat | None = None
    lon: Lon | None = None
    speed_mps: PositiveMetres = 1.5


class SectorSpec(_Model):
    """Extension: a slice of the border owned by one tracker, by longitude range."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    west_lon: Lon
    east_lon: Lon

    @model_validator(mode="after")
    def _ordered(self) -> "SectorSpec":
        if self.west_lon >= self.east_lon:
            raise ValueError("west_lon must be less than east_lon")
        return self


class Site(_Model):
    """A whole site file. ``frame`` and the ``*_enu`` views are derived, not stored."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    site: SiteInfo
    border: Border
    zones: list[Zone] = Field(default_factory=list)
    sensors: list[SensorSpec] = Field(min_length=1)
    teams: list[TeamSpec] = Field(default_factory=list)
    sectors: list[SectorSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Site":
        for name, items in (("sensors", self.sensors), ("teams", self.teams), ("zones", self.zones), ("sectors", self.sectors)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{name}: id {item.id!r} appears twice")
                seen.add(item.id)
        return self

    @cached_property
    def frame(self) -> LocalFrame:
        o = self.site.origin
        return LocalFrame(o.lat, o.lon, o.alt_m)

    @cached_property
    def sensor_by_id(self) -> dict[str, SensorSpec]:
        return {s.id: s for s in self.sensors}

    @cached_property
    def border_enu(self) -> np.ndarray:
        """Border line vertices, (k, 2) east/north metres."""
        coords = np.asarray(self.border.line.coordinates, dtype=float)
        return self.frame.to_enu(coords[:, 1], coords[:, 0])[:, :2]

    def sensor_enu(self, sensor_id: str) -> np.ndarray | None:
        """Fixed sensor position (3,) in ENU metres, or None for a mobile sensor."""
        spec = self.sensor_by_id[sensor_id]
        if spec.lat is None or spec.lon is None:
            return None
        return self.frame.to_enu(spec.lat, spec.lon, spec.alt_m)

    def sector_ids(self) -> list[str]:
        return [s.id for s in self.sectors] or ["main"]

    @cached_property
    def sector_bounds_east_m(self) -> np.ndarray:
        """East coordinate (metres) of each inner sector boundary, at the origin latitude."""
        lons = np.array([s.east_lon for s in self.sectors[:-1]], dtype=float)
        return self.frame.to_enu(np.full_like(lons, self.site.origin.lat), lons)[:, 0] if lons.size else lons

    def sector_of(self, east_m: np.ndarray) -> np.ndarray:
        """Sector index for each east coordinate (metres); one sector "main" when none are set.

        Sectors are longitude slices, so over a border stretch of tens of km the
        boundary is taken as the meridian's east coordinate at the origin latitude.
        Points west of the first sector go to it, east of the last to the last.
        """
        east = np.asarray(east_m, dtype=float)
        if not self.sectors:
            return np.zeros(east.shape, dtype=np.int64)
        return np.searchsorted(self.sector_bounds_east_m, east, side="right").astype(np.int64)
