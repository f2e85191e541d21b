"""Scan (de)serialisation for the OOSM history and the tracker snapshot."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fusion.types import Scan, SensorType

_ARRAYS = ("sensor_enu", "z", "R", "det_time", "class_probs", "count")
_OPTIONAL = ("polar", "polar_sigma", "radial_speed_mps", "snr_db", "narcotics", "heading_rad")


def _plain(v: np.ndarray) -> list:
    """A list for JSON: NaN (absent optional values) becomes None."""
    a = np.asarray(v)
    if a.dtype.kind == "f" and np.isnan(a).any():
        return [None if np.isnan(e) else float(e) for e in a.ravel()]
    return a.tolist()


def scan_to_dict(s: Scan) -> dict:
    d: dict = {"time": s.time, "sensor_id": s.sensor_id, "sensor_type": str(s.sensor_type), "seq": s.seq,
               "notes": list(s.notes), "recv_time": s.recv_time}
    for k in _ARRAYS:
        d[k] = np.asarray(getattr(s, k)).tolist()
    for k in _OPTIONAL:
        v = getattr(s, k)
        d[k] = None if v is None else _plain(v)
    return d


def scan_from_dict(d: dict) -> Scan:
    m = len(d["det_time"])
    arr = {
        "sensor_enu": np.asarray(d["sensor_enu"], float),
        "z": np.asarray(d["z"], float).reshape(m, 2),
        "R": np.asarray(d["R"], float).reshape(m, 2, 2),
        "det_time": np.asarray(d["det_time"], float).reshape(m),
        "class_probs": np.asarray(d["class_probs"], float).reshape(m, 4),
        "count": np.asarray(d["count"], np.int64).reshape(m),
    }
    shapes = {"polar": (m, 2), "polar_sigma": (m, 2)}
    for k in _OPTIONAL:
        v = d.get(k)
        if v is None:
            arr[k] = None
        elif k == "narcotics":
            arr[k] = np.asarray(v, dtype=bool).reshape(m)
        else:
            flat = np.asarray(v, dtype=object).ravel()
            arr[k] = np.array([np.nan if e is None else e for e in flat], dtype=float).reshape(shapes.get(k, (m,)))
    return Scan(time=float(d["time"]), sensor_id=d["sensor_id"], sensor_type=SensorType(d["sensor_type"]),
                seq=int(d["seq"]), notes=tuple(d.get("notes", ())), recv_time=d.get("recv_time"), **arr)


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
