"""Scan (de)serialisation for the OOSM history and the tracker snapshot."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fusion.packing import pack, unpack
from fusion.types import Scan, SensorType

_OPTIONAL = ("polar", "polar_sigma", "radial_speed_mps", "snr_db", "narcotics", "heading_rad")


_DTYPES = {"sensor_enu": "<f8", "z": "<f8", "R": "<f8", "det_time": "<f8", "class_probs": "<f8", "count": "<i8",
           "polar": "<f8", "polar_sigma": "<f8", "radial_speed_mps": "<f8", "snr_db": "<f8", "narcotics": "|b1",
           "heading_rad": "<f8"}
_ROW_SHAPES = {"z": (2,), "R": (2, 2), "det_time": (), "class_probs": (4,), "count": (), "polar": (2,),
               "polar_sigma": (2,), "radial_speed_mps": (), "snr_db": (), "narcotics": (), "heading_rad": ()}


def pack_scans(scans: list[Scan]) -> dict:
    """Many scans as one JSON-able dict of column arrays (base64), for the tracker snapshot.

    The out-of-sequence history holds every scan of the last 11 minutes: at 1,000
    detections/s that is 60,000 scans, and a dict of lists per scan took seconds to
    build and encode. Columns concatenate each field over all scans (an optional field
    a scan lacks is a ``has_`` flag and takes no rows), so encoding is a copy of bytes.
    """
    sizes = np.array([s.size for s in scans], dtype=np.int64)
    ids = sorted({s.sensor_id for s in scans})
    col = {id_: k for k, id_ in enumerate(ids)}
    out: dict = {
        "n": len(scans),
        "sizes": pack(sizes, "<i8"),
        "time": pack(np.array([s.time for s in scans]), "<f8"),
        "seq": pack(np.array([s.seq for s in scans], dtype=np.int64), "<i8"),
        "recv_time": pack(np.array([np.nan if s.recv_time is None else s.recv_time for s in scans]), "<f8"),
        "sensor_ids": ids,
        "sensor": pack(np.array([col[s.sensor_id] for s in scans], dtype=np.int64), "<i8"),
        "sensor_type": [str(s.sensor_type) for s in scans],
        "sensor_enu": pack(np.array([s.sensor_enu for s in scans]).reshape(len(scans), 3), "<f8"),
        "notes": {str(k): list(s.notes) for k, s in enumerate(scans) if s.notes},
    }
    for name, shape in _ROW_SHAPES.items():
        parts, has = [], []
        for s in scans:
            v = getattr(s, name)
            has.append(v is not None)
            if v is not None:
                parts.append(np.asarray(v).reshape(s.size, *shape))
        out[name] = pack(np.concatenate(parts) if parts else np.zeros((0, *shape)), _DTYPES[name])
        if name in _OPTIONAL:
            out["has_" + name] = pack(np.array(has, dtype=bool), "|b1")
    return out


def unpack_scans(d: dict) -> list[Scan]:
    """The scans ``pack_scans`` packed, equal field by field."""
    n = int(d["n"])
    sizes = unpack(d["sizes"])
    has = {name: unpack(d["has_" + name]) for name in _OPTIONAL}
    cols: dict[str, list] = {}
    for name in _ROW_SHAPES:
        present = has[name] if name in has else np.ones(n, dtype=bool)
        parts = iter(np.split(unpack(d[name]), np.cumsum(sizes[present])[:-1])) if present.any() else iter(())
        cols[name] = [next(parts) if p else None for p in present]
    time, seq, recv = unpack(d["time"]), unpack(d["seq"]), unpack(d["recv_time"])
    sensor, enu = unpack(d["sensor"]), unpack(d["sensor_enu"])
    out = []
    for k in range(n):
        opt = {name: cols[name][k] for name in _OPTIONAL}
        out.append(Scan(time=float(time[k]), sensor_id=d["sensor_ids"][int(sensor[k])],
                        sensor_type=SensorType(d["sensor_type"][k]), seq=int(seq[k]), sensor_enu=enu[k],
                        z=cols["z"][k], R=cols["R"][k], det_time=cols["det_time"][k], class_probs=cols["class_probs"][k],
                        count=cols["count"][k], notes=tuple(d["notes"].get(str(k), ())),
                        recv_time=None if np.isnan(recv[k]) else float(recv[k]), **opt))
    return out


def split_by_det_time(s: Scan) -> list[Scan]:
    """One sub-scan per distinct detection time (K-9 reports), each timed at it, in time order.

    A scan with no detections, or whose detections all share ``time``, is returned as is.
    """
    if s.size == 0 or np.all(s.det_time == s.time):
        return [s]
    out = []
    for t in np.unique(s.det_time):
        idx = np.flatnonzero(s.det_time == t)
        kw = {k: getattr(s, k)[idx] for k in ("z", "R", "det_time", "class_probs", "count")}
        for k in _OPTIONAL:
            v = getattr(s, k)
            if v is not None:
                kw[k] = v[idx]
        kw["notes"] = tuple(s.notes[i] for i in idx) if len(s.notes) == s.size else s.notes
        out.append(replace(s, time=float(t), **kw))
    return out
