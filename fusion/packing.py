"""Arrays in JSON as raw little-endian bytes in base64: exact, and a copy of bytes to encode.

Snapshots hold the tracker's table, its checkpoints and its out-of-sequence history,
tens of megabytes at high rates: as JSON lists of numbers they took seconds to build
and encode and were twice the size. ``pack`` keeps dtype and shape with the bytes.
"""

from __future__ import annotations

import base64

import numpy as np


def pack(a: np.ndarray, dtype: str | None = None) -> dict:
    """``{"dtype", "shape", "b64"}`` of ``a`` (as ``dtype``, little-endian, when given)."""
    a = np.asarray(a)
    dt = np.dtype(dtype) if dtype is not None else a.dtype.newbyteorder("<")
    a = np.ascontiguousarray(a, dtype=dt)
    return {"dtype": dt.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def unpack(d: dict) -> np.ndarray:
    """The array ``pack`` packed (a writable copy)."""
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()
