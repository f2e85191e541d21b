"""Malformed messages, one per dead-letter class, for the garbage benchmark and tests.

Each generated message carries its expected dead-letter code. Classes that need a
valid-looking body start from a real detection message of the run (so they differ
from good traffic by exactly one defect). Every textual payload carries a unique
marker ``"g":N`` so a dead letter can be traced back to what caused it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from adapters.recording import RecordedMessage
from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.site import Site

#: (code, relative weight). Oversize payloads are 300 KiB each, so they are rare.
CLASSES: tuple[tuple[str, int], ...] = (
    ("invalid_json", 10),
    ("not_object", 10),
    ("not_utf8", 10),
    ("too_deep", 10),
    ("schema", 10),
    ("unknown_sensor", 10),
    ("sensor_mismatch", 10),
    ("missing_platform", 10),
    ("time_out_of_range", 10),
    ("out_of_area", 10),
    ("unknown_team", 10),
    ("oversize", 1),
)


@dataclass(frozen=True)
class Garbage:
    topic: str
    payload: bytes
    code: str


def garbage(n: int, site: Site, now: float, topics: Topics | None = None) -> Iterator[Garbage]:
    """``n`` malformed messages cycling through ``CLASSES`` by weight; deterministic."""
    t = topics or Topics()
    radar = next(s for s in site.sensors if s.type.value == "radar")
    other_radar = next((s for s in site.sensors if s.type.value == "radar" and s.id != radar.id), radar)
    drone = next((s for s in site.sensors if s.type.value == "drone"), None)
    det_topic = t.detections("radar", radar.id)
    cycle = [code for code, w in CLASSES for _ in range(w)]
    iso = to_iso(now)

    def radar_body(g: int, **over: object) -> dict:
        body = {"g": g, "sensor_id": radar.id, "seq": 10_000_000 + g, "time": iso,
                "detections": [{"range_m": 1500.0, "bearing_deg": 10.0, "sigma_range_m": 10.0, "sigma_bearing_deg": 0.5}]}
        body.update(over)
        return body

    for g in range(n):
        code = cycle[(g * 7919) % len(cycle)]  # a fixed shuffle of the classes
        enc = lambda d: json.dumps(d).encode()  # noqa: E731
        if code == "invalid_json":
            payload, topic = (b'{"g":%d,"sensor_id":NaN}' % g) if g % 2 else (b'{"g":%d,"sensor_id":"x",' % g), det_topic
        elif code == "not_object":
            payload, topic = b'["g",%d,1,2]' % g, det_topic
        elif code == "not_utf8":
            payload, topic = b'{"g":%d,"x":"\xff\xfe\xc3"}' % g, det_topic
        elif code == "too_deep":
            payload, topic = b'{"g":%d,"a":' % g + b"[" * 200 + b"]" * 200 + b"}", det_topic
        elif code == "schema":
            payload, topic = enc(radar_body(g, detections=[{"range_m": -5.0, "bearing_deg": 400.0}])), det_topic
        elif code == "unknown_sensor":
            payload, topic = enc(radar_body(g, sensor_id="ghost-tower")), t.detections("radar", "ghost-tower")
        elif code == "sensor_mismatch":  # posing as another tower on this tower's topic
            payload, topic = enc(radar_body(g, sensor_id=other_radar.id)), det_topic
        elif code == "missing_platform" and drone is not None:
            payload = enc({"g": g, "sensor_id": drone.id, "seq": g, "time": iso,
                           "detections": [{"lat": site.site.origin.lat, "lon": site.site.origin.lon, "sigma_m": 10.0}]})
            topic = t.detections("drone", drone.id)
        elif code == "time_out_of_range":
            payload, topic = enc(radar_body(g, time="2001-01-01T00:00:00.000Z")), det_topic
        elif code == "out_of_area" and drone is not None:
            payload = enc({"g": g, "sensor_id": drone.id, "seq": g, "time": iso, "platform": {"lat": 10.0, "lon": 10.0},
                           "detections": [{"lat": 10.0, "lon": 10.0, "sigma_m": 10.0}]})
            topic = t.detections("drone", drone.id)
        elif code == "unknown_team":
            payload, topic = enc({"g": g, "time": iso, "lat": 49.0, "lon": -122.7, "available": True}), t.team_position("ghost-team")
        elif code == "oversize":
            payload, topic = enc(radar_body(g, pad="x" * (300 * 1024))), det_topic
        else:  # a site without a drone: fall back to a class every site has
            code = "schema"
            payload, topic = enc(radar_body(g, detections="none")), det_topic
        yield Garbage(topic, payload, code)


def as_recorded(items: list[Garbage], recv_times: list[float]) -> list[RecordedMessage]:
    return [RecordedMessage(rt, g.topic, g.payload) for g, rt in zip(items, recv_times)]
