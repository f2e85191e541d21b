"""Cursor-on-Target (CoT 2.0) XML for TAK devices: dispatch orders and hostile tracks.

A small generator rather than pytak: pytak stamps ``time``/``start``/``stale`` from
the wall clock, and a replay must give byte-identical output, so every time here is
the event time of the report (``stale`` = time + a validity period). The element
layout follows the MITRE CoT Event schema (Event-PUBLIC.xsd, version 2.0):

    <event version="2.0" uid type how time start stale>   (all required)
      <point lat lon hae ce le/>                             (required, first)
      <detail> ... </detail>                                 (optional, free-form)
    </event>

``type`` is the hierarchical CoT type (``a-h-G-U-C-I`` hostile ground infantry,
``a-h-G-E-V`` hostile ground vehicle, ``a-h-G`` hostile ground, ``b-m-p-w-GOTO``
the ATAK "go to" waypoint for an intercept point, ``t-x-d-d`` a delete); ``how`` is
``m-f`` (machine, fused) for tracks and ``m-p`` (machine, predicted) for orders and
deletes. Unknown heights and linear
errors are 9999999.0, the CoT convention. ``check_event`` parses an event back and
checks the schema's rules, so tests (and receivers) can hold the output to them.

``CotSender`` sends events to a TAK server (TCP, one event after another, the TAK
"streaming" protocol) or to the TAK mesh (UDP, one event per datagram, by default
multicast 239.2.3.1:6969).
"""

from __future__ import annotations

import math
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from adapters.timefmt import from_iso, to_iso
from fusion.site import Site
from fusion.types import AlertReport, DispatchReport, TrackReport, TrackStatus

UNKNOWN = 9999999.0  # CoT: height / error not known
UID_PREFIX = "borderwatch"

#: CoT type for a hostile track of each class (2525-derived hierarchy).
HOSTILE_TYPE = {"person": "a-h-G-U-C-I", "vehicle": "a-h-G-E-V", "animal": "a-h-G", "unknown": "a-h-G"}
GOTO_TYPE = "b-m-p-w-GOTO"
DELETE_TYPE = "t-x-d-d"

#: Alert kinds whose tracks are shown as hostile.
HOSTILE_KINDS = ("predicted_crossing", "crossing", "incursion", "narcotics")

_TYPE_RE = re.compile(r"^\w+(-\w+)*(;[^;]*)?$")
_HOW_RE = re.compile(r"^\w(-\w+)*$")


def _num(x: float, digits: int = 7) -> str:
    """Fixed decimals, so the same number always gives the same text."""
    return f"{float(x):.{digits}f}"


def _event(uid: str, cot_type: str, how: str, time: float, stale_s: float, lat: float, lon: float,
           ce: float, detail: ET.Element | None) -> bytes:
    ev = ET.Element("event", {
        "version": "2.0", "uid": uid, "type": cot_type, "how": how,
        "time": to_iso(time), "start": to_iso(time), "stale": to_iso(time + stale_s),
    })
    ET.SubElement(ev, "point", {"lat": _num(lat), "lon": _num(lon), "hae": _num(UNKNOWN, 1), "ce": _num(ce, 1),
                                "le": _num(UNKNOWN, 1)})
    if detail is not None:
        ev.append(detail)
    return ET.tostring(ev, encoding="utf-8", xml_declaration=False)


def track_event(r: TrackReport, site: Site, stale_s: float = 30.0, remarks: str = "") -> bytes:
    """A track as a hostile CoT marker; ``ce`` is the 1-sigma radius of its position (largest axis)."""
    lat, lon = site.frame.to_geodetic_2d(float(r.x[0]), float(r.x[1]))
    return _track_xml(r.track_id, r.time, float(lat), float(lon), np.asarray(r.P, dtype=float)[:2, :2], float(r.x[2]),
                      float(r.x[3]), r.class_name, r.count, r.sensors, r.existence, r.status == TrackStatus.DELETED,
                      stale_s, remarks)


def track_event_from_wire(p: dict, stale_s: float = 30.0, remarks: str = "") -> bytes:
    """The same marker from a track message as published (CONTRACT.md "Track message")."""
    return _track_xml(p["track_id"], from_iso(p["time"]), float(p["lat"]), float(p["lon"]), np.asarray(p["cov_en_m2"], dtype=float),
                      float(p["vel_east_mps"]), float(p["vel_north_mps"]), p.get("class", "unknown"), int(p.get("count") or 1),
                      tuple(p.get("sensors", ())), float(p.get("existence", 0.0)), p.get("status") == "deleted", stale_s, remarks)


def _track_xml(track_id: str, time: float, lat: float, lon: float, cov_en: np.ndarray, ve: float, vn: float, cls: str,
               count: int, sensors: tuple[str, ...], existence: float, deleted: bool, stale_s: float, remarks: str) -> bytes:
    ce = math.sqrt(max(float(np.linalg.eigvalsh(cov_en).max()), 0.0))
    detail = ET.Element("detail")
    ET.SubElement(detail, "contact", {"callsign": track_id})
    ET.SubElement(detail, "track", {"course": _num(math.degrees(math.atan2(ve, vn)) % 360.0, 1),
                                     "speed": _num(math.hypot(ve, vn), 2)})
    text = f"{cls}, {count} seen by {', '.join(sensors) or 'none'}; existence {existence:.2f}"
    ET.SubElement(detail, "remarks").text = f"{remarks}. {text}" if remarks else text
    stale = 0.0 if deleted else stale_s  # a deleted track goes stale at once
    return _event(f"{UID_PREFIX}.{track_id}", HOSTILE_TYPE.get(cls, "a-h-G"), "m-f", time, stale, lat, lon, ce, detail)


def dispatch_event(d: DispatchReport, site: Site, stale_s: float = 600.0) -> bytes:
    """A dispatch order as a "go to" waypoint at the intercept point, addressed to the team.

    ``cancel`` is sent as a CoT delete (``t-x-d-d``) of the order's waypoint.
    """
    lat, lon = site.frame.to_geodetic_2d(float(d.intercept_enu[0]), float(d.intercept_enu[1]))
    tlat, tlon = site.frame.to_geodetic_2d(float(d.target_enu[0]), float(d.target_enu[1]))
    return _dispatch_xml(d.dispatch_id, d.alert_id, d.team_id, d.time, d.state, float(lat), float(lon), float(tlat),
                         float(tlon), d.intercept_eta_s, d.summary, stale_s)


def dispatch_event_from_wire(p: dict, stale_s: float = 600.0) -> bytes:
    """The same from a dispatch order as published (CONTRACT.md "Dispatch order")."""
    return _dispatch_xml(p["dispatch_id"], p["alert_id"], p["team_id"], from_iso(p["time"]), p.get("state", "new"),
                         float(p["intercept"]["lat"]), float(p["intercept"]["lon"]), float(p["target"]["lat"]),
                         float(p["target"]["lon"]), float(p["intercept"].get("eta_s") or 0.0), p.get("summary", ""), stale_s)


def _dispatch_xml(dispatch_id: str, alert_id: str, team_id: str, time: float, state: str, lat: float, lon: float,
                  tlat: float, tlon: float, eta_s: float, summary: str, stale_s: float) -> bytes:
    uid = f"{UID_PREFIX}.{dispatch_id}"
    detail = ET.Element("detail")
    if state == "cancel":
        ET.SubElement(detail, "link", {"uid": uid, "relation": "none", "type": GOTO_TYPE})
        ET.SubElement(detail, "__forcedelete")
        _dest(detail, team_id)
        return _event(f"{uid}.delete", DELETE_TYPE, "m-p", time, 20.0, lat, lon, UNKNOWN, detail)
    ET.SubElement(detail, "contact", {"callsign": f"Intercept {alert_id}"})
    ET.SubElement(detail, "link", {"uid": f"{UID_PREFIX}.{alert_id}", "relation": "p-p", "type": "a-h-G",
                                   "point": f"{_num(tlat)},{_num(tlon)}"})
    ET.SubElement(detail, "remarks").text = f"{dispatch_id} ({state}) for {team_id}: {summary}. ETA {eta_s:.0f} s"
    _dest(detail, team_id)
    return _event(uid, GOTO_TYPE, "m-p", time, stale_s, lat, lon, 10.0, detail)


def _dest(detail: ET.Element, team_id: str) -> None:
    """TAK addressing: deliver to the team's device (by callsign) only."""
    marti = ET.SubElement(detail, "marti")
    ET.SubElement(marti, "dest", {"callsign": team_id})


def hostile_track_events(tracks: Iterable[TrackReport], alerts: Iterable[AlertReport], site: Site,
                         stale_s: float = 30.0) -> list[bytes]:
    """CoT for every track named by an open alert of a hostile kind, in track id order."""
    why: dict[str, list[str]] = {}
    for a in alerts:
        if a.state != "end" and a.kind in HOSTILE_KINDS:
            for t in a.track_ids:
                why.setdefault(t, []).append(f"{a.kind} {a.alert_id}")
    return [track_event(r, site, stale_s, "; ".join(why[r.track_id]))
            for r in sorted(tracks, key=lambda r: r.track_id) if r.track_id in why]


class CotStream:
    """Published messages in, CoT events out: every dispatch order, and every track message
    while the track is named by an open alert of a hostile kind (the live forwarder and
    ``run_to_cot`` share it, so both send the same events for the same messages)."""

    def __init__(self) -> None:
        self.open_by_track: dict[str, dict[str, str]] = {}  # track -> {alert_id: kind} open now

    def feed(self, kind: str, p: dict) -> list[bytes]:
        """``kind`` is ``alert``, ``track`` or ``dispatch``; returns the CoT events it causes."""
        if kind == "alert" and p.get("kind") in HOSTILE_KINDS:
            for t in p.get("track_ids", []):
                if p.get("state") == "end":
                    self.open_by_track.get(t, {}).pop(p["alert_id"], None)
                else:
                    self.open_by_track.setdefault(t, {})[p["alert_id"]] = p["kind"]
        elif kind == "track" and self.open_by_track.get(p.get("track_id", "")):
            why = "; ".join(f"{k} {a}" for a, k in sorted(self.open_by_track[p["track_id"]].items()))
            return [track_event_from_wire(p, remarks=why)]
        elif kind == "dispatch":
            return [dispatch_event_from_wire(p)]
        return []


def run_to_cot(tracks: Iterable[dict], alerts: Iterable[dict], dispatches: Iterable[dict]) -> list[bytes]:
    """CoT for a replay's published messages, in time order (see ``CotStream``)."""
    timeline: list[tuple[str, int, int, dict]] = []  # (time, stream order, index, payload)
    for order, stream in enumerate((alerts, tracks, dispatches)):
        for i, p in enumerate(stream):
            timeline.append((p.get("time", ""), order, i, p))
    timeline.sort(key=lambda e: (from_iso(e[0]) if e[0] else 0.0, e[1], e[2]))
    cot = CotStream()
    out: list[bytes] = []
    for _, order, _, p in timeline:
        out += cot.feed(("alert", "track", "dispatch")[order], p)
    return out


# --- checking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CotEvent:
    """The parts of a parsed CoT event that a receiver needs."""

    uid: str
    type: str
    how: str
    time: float
    start: float
    stale: float
    lat: float
    lon: float
    hae: float
    ce: float
    le: float
    detail: ET.Element | None


def check_event(xml: bytes | str) -> CotEvent:
    """Parse one CoT event and check Event-PUBLIC.xsd's rules; ValueError says which one failed."""
    root = ET.fromstring(xml)
    if root.tag != "event":
        raise ValueError(f"root element is {root.tag!r}, not event")
    for attr in ("version", "uid", "type", "how", "time", "start", "stale"):
        if not root.get(attr):
            raise ValueError(f"event lacks the required attribute {attr!r}")
    if float(root.get("version", "0")) < 2.0:
        raise ValueError("event version must be 2.0 or later")
    if not _TYPE_RE.match(root.get("type", "")):
        raise ValueError(f"type {root.get('type')!r} is not a CoT type")
    if not _HOW_RE.match(root.get("how", "")):
        raise ValueError(f"how {root.get('how')!r} is not a CoT how")
    times = [from_iso(root.get(a, "")) for a in ("time", "start", "stale")]
    if times[2] < times[1]:
        raise ValueError("stale is before start")
    children = list(root)
    if not children or children[0].tag != "point":
        raise ValueError("the first child of event must be point")
    if any(c.tag not in ("point", "detail") for c in children) or len(children) > 2:
        raise ValueError("event holds only point and an optional detail")
    p = children[0]
    vals = {}
    for attr in ("lat", "lon", "hae", "ce", "le"):
        if p.get(attr) is None:
            raise ValueError(f"point lacks {attr!r}")
        vals[attr] = float(p.get(attr, "nan"))
    if not -90.0 <= vals["lat"] <= 90.0 or not -180.0 <= vals["lon"] <= 180.0:
        raise ValueError("point lat/lon out of range")
    detail = children[1] if len(children) == 2 else None
    return CotEvent(root.get("uid", ""), root.get("type", ""), root.get("how", ""), *times, **vals, detail=detail)


# --- sending -----------------------------------------------------------------------------------


class CotSender:
    """Send CoT events over UDP (one per datagram; mesh/multicast) or TCP (streamed to a TAK server)."""

    def __init__(self, host: str = "239.2.3.1", port: int = 6969, protocol: str = "udp", timeout_s: float = 5.0) -> None:
        if protocol not in ("udp", "tcp"):
            raise ValueError("protocol must be udp or tcp")
        self.host, self.port, self.protocol = host, port, protocol
        if protocol == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout_s)

    def send(self, events: Iterable[bytes]) -> int:
        n = 0
        for ev in events:
            if self.protocol == "udp":
                self.sock.sendto(ev, (self.host, self.port))
            else:
                self.sock.sendall(ev)
            n += 1
        return n

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "CotSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
