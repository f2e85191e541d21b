"""TrackReport <-> plain JSON-serialisable dict, for the alerting and pipeline snapshots: every
field, so that a restored report is the report (the pipeline publishes held reports after a
restart, and a track message carries the IMM mode probabilities)."""

from __future__ import annotations

import numpy as np

from fusion.types import TrackReport, TrackStatus


def report_to_dict(r: TrackReport) -> dict[str, object]:
    return {
        "track_id": r.track_id, "time": r.time, "status": str(r.status), "x": np.asarray(r.x, dtype=float).tolist(),
        "P": np.asarray(r.P, dtype=float).tolist(), "existence": float(r.existence),
        "class_probs": np.asarray(r.class_probs, dtype=float).tolist(), "sensors": list(r.sensors),
        "sector": r.sector, "count": int(r.count), "updated": bool(r.updated),
        "model_probs": None if r.model_probs is None else np.asarray(r.model_probs, dtype=float).tolist(),
    }


def report_from_dict(d: dict) -> TrackReport:
    return TrackReport(
        track_id=d["track_id"], time=float(d["time"]), status=TrackStatus(d["status"]), x=np.asarray(d["x"], dtype=float),
        P=np.asarray(d["P"], dtype=float), existence=float(d["existence"]),
        class_probs=np.asarray(d["class_probs"], dtype=float), sensors=tuple(d["sensors"]), sector=d["sector"],
        count=int(d["count"]), updated=bool(d["updated"]),
        model_probs=None if d.get("model_probs") is None else np.asarray(d["model_probs"], dtype=float),
    )
