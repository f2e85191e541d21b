"""What alerting remembers about each track between updates: side, dwell, recent path.

Side of the border with hysteresis (a Schmitt trigger): a sample counts for a side
only when the track is beyond ``margin = max(margin_m, k * sigma_d)`` from the line,
and the remembered side flips after ``confirm`` (default 2) consecutive such samples
on the other side: the direction comes from the side history, never from one noisy
sample. A track wandering within the margin never flips, so it never flaps; the
cost is the time to get ``margin`` past the line (about 7 s for a walker with a
10 m cross-line sigma) plus ``confirm - 1`` updates (2 s with a radar).

The memory is kept as columns (``COLUMNS``, one row per track slot of the engine's
``PositionCache``), so a call updates all its updated tracks with array operations
(``observe``) and the context gathers them by slot. Only the recent path is a Python
list per track; it grows at most once per ``PATH_STEP_S``. ``None`` of a snapshot
(``to_dict``/``from_dict``, the format of the per-track objects this replaced) is NaN
in a column, except ``deepest_out_m`` and ``spread_m``, where it is inf.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray

#: Spacing (s) of the kept path: coarse enough to smooth radar noise and stay cheap.
PATH_STEP_S = 5.0

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Path = list[tuple[float, float, float]]  # (t, east, north) recent updates, a point every PATH_STEP_S at most

_TIME = itemgetter(0)  # of a path point

#: Column -> (dtype, value of a track not seen yet).
COLUMNS: dict[str, tuple[type, object]] = {
    "side": (np.int64, 0),  # +1 protected, -1 unprotected, 0 not yet known
    "pending": (np.int64, 0),  # consecutive samples on the other side
    "crossed_at": (np.float64, np.nan),  # time of the last flip into the protected side
    "crossed_e": (np.float64, np.nan),  # where (border point, east and north m)
    "crossed_n": (np.float64, np.nan),
    "near_since": (np.float64, np.nan),  # start of the current dwell near the line
    "via_port": (np.bool_, False),  # seen inside a port of entry: legal traffic, never a crossing threat
    "farthest_m": (np.float64, 0.0),  # farthest the track has been from the line (m): did it walk up to it?
    "deepest_out_m": (np.float64, np.inf),  # lowest signed distance seen (m, most on the unprotected side)
    "loitered": (np.bool_, False),  # dwelt confined near the line (a person waiting, not an animal passing): a threat from then on
    "straightness": (np.float64, np.nan),  # of the recent path, see ``refresh_motion`` (NaN: too little path)
    "net_speed": (np.float64, np.nan),  # m/s, ditto
    "spread_m": (np.float64, np.inf),  # spread of the dwell window, see ``refresh_motion``
    "path_t": (np.float64, -np.inf),  # time of the last kept path point
    "path": (object, None),  # the kept path (a list per track)
}


def new_columns(n: int) -> dict[str, np.ndarray]:
    """Columns of ``n`` tracks not seen yet (each with a path list of its own)."""
    cols = {name: np.full(n, fill, dtype=dtype) for name, (dtype, fill) in COLUMNS.items() if dtype is not object}
    path = np.empty(n, dtype=object)
    for i in range(n):
        path[i] = []
    cols["path"] = path
    return cols


def observe(mem: dict[str, np.ndarray], slots: IntArray, t: FloatArray, d: FloatArray, margin: FloatArray,
            xy: FloatArray, in_port: NDArray[np.bool_], on_line: FloatArray, confirm: int, near_m: float, exit_m: float,
            keep_s: float, step_s: float = PATH_STEP_S) -> tuple[NDArray[np.int8], IntArray]:
    """Feed updates (row k: track slot ``slots[k]`` at time ``t[k]``, signed distance ``d[k]``...) in order.

    A slot may come more than once (a batch of tracker steps): its k-th update is
    applied in round k, so each track sees its updates in order. Returns the side flip
    of each update (+1 into the protected side, -1 out, 0 none) and the slots whose
    path grew (their motion figures are stale: ``refresh_motion``).
    """
    flip = np.zeros(slots.size, dtype=np.int8)
    grown: set[int] = set()
    occurrence = _occurrence(slots)
    for k in range(int(occurrence.max(initial=-1)) + 1):
        rows = np.flatnonzero(occurrence == k)
        s, d_k, t_k = slots[rows], d[rows], t[rows]
        flip[rows] = _observe_side(mem, s, d_k, margin[rows], confirm)
        into = flip[rows] > 0
        mem["crossed_at"][s[into]] = t_k[into]
        mem["crossed_e"][s[into]], mem["crossed_n"][s[into]] = on_line[rows[into], 0], on_line[rows[into], 1]
        _observe_dwell(mem, s, t_k, d_k, near_m, exit_m)
        mem["via_port"][s] |= in_port[rows]
        grow = ~(t_k - mem["path_t"][s] < step_s)
        for slot, t_i, (e_i, n_i) in zip(s[grow].tolist(), t_k[grow].tolist(), xy[rows[grow]].tolist()):
            path = mem["path"][slot]
            path.append((t_i, e_i, n_i))
            while path and path[0][0] < t_i - keep_s:
                path.pop(0)
            grown.add(slot)
        mem["path_t"][s[grow]] = t_k[grow]
    return flip, np.array(sorted(grown), dtype=np.int64)


def _occurrence(slots: IntArray) -> IntArray:
    """For each entry, how many earlier entries hold the same slot."""
    order = np.argsort(slots, kind="stable")
    ranked = slots[order]
    index = np.arange(slots.size)
    first = np.ones(slots.size, dtype=bool)
    first[1:] = ranked[1:] != ranked[:-1]
    out = np.empty(slots.size, dtype=np.int64)
    out[order] = index - np.maximum.accumulate(np.where(first, index, 0))
    return out


def _observe_side(mem: dict[str, np.ndarray], s: IntArray, d: FloatArray, margin: FloatArray, confirm: int) -> NDArray[np.int8]:
    """One sample per slot (module doc); the flips (+1 into, -1 out, 0 none)."""
    sample = np.where(d > margin, 1, np.where(d < -margin, -1, 0))
    side, pending = mem["side"][s], mem["pending"][s]
    counts = (sample != 0) & (side != 0)
    first = (sample != 0) & (side == 0)
    other = counts & (sample != side)
    pending = np.where(counts & (sample == side), 0, pending + other)
    flipped = other & (pending >= confirm)
    mem["side"][s] = np.where(first | flipped, sample, side)
    mem["pending"][s] = np.where(flipped, 0, pending)
    return np.where(flipped, sample, 0).astype(np.int8)


def _observe_dwell(mem: dict[str, np.ndarray], s: IntArray, t: FloatArray, d: FloatArray, near_m: float, exit_m: float) -> None:
    """Farthest and deepest distance, and the dwell near the line (left only beyond ``near_m + exit_m``)."""
    abs_d = np.abs(d)
    farthest, deepest, since = mem["farthest_m"][s], mem["deepest_out_m"][s], mem["near_since"][s]
    mem["farthest_m"][s] = np.where(abs_d > farthest, abs_d, farthest)  # max() and min() as Python's: keep the old on ties
    mem["deepest_out_m"][s] = np.where(d < deepest, d, deepest)
    near = abs_d <= near_m
    since = np.where(near & np.isnan(since), t, since)
    mem["near_since"][s] = np.where(~near & (abs_d > near_m + exit_m), np.nan, since)


def refresh_motion(mem: dict[str, np.ndarray], slots: IntArray, motion_window_s: float, min_span_s: float,
                   spread_window_s: float) -> None:
    """Recompute the motion figures of these slots (their path just grew).

    Straightness is net displacement over path length (1 = straight line); net speed is
    net displacement over elapsed time, both over the last ``motion_window_s`` of path
    (NaN with less than 3 points or ``min_span_s`` of it). ``spread_m``: the largest
    distance of the last ``spread_window_s`` of path from its centroid. Both come from
    the filtered positions sampled every ``PATH_STEP_S``, smooth enough to tell a
    purposeful walk from milling about. Paths with the same number of points share one
    stacked numpy pass: a thousand small arrays cost far more in call overhead than in
    arithmetic.
    """
    by_motion: dict[int, list[tuple[int, Path]]] = defaultdict(list)
    by_spread: dict[int, list[tuple[int, Path]]] = defaultdict(list)
    for slot in slots.tolist():
        path = mem["path"][slot]  # times increasing: a point is kept at most every step
        last = path[-1][0]
        rows = path[bisect_left(path, last - motion_window_s, key=_TIME):]
        if len(rows) < 3 or rows[-1][0] - rows[0][0] < min_span_s:
            mem["straightness"][slot] = mem["net_speed"][slot] = np.nan
        else:
            by_motion[len(rows)].append((slot, rows))
        rows = path[bisect_left(path, last - spread_window_s, key=_TIME):]
        by_spread[len(rows)].append((slot, rows))
    for batch in by_motion.values():
        at = np.array([slot for slot, _ in batch], dtype=np.int64)
        p = np.array([rows for _, rows in batch])  # (g, k, 3)
        net = np.hypot(*(p[:, -1, 1:] - p[:, 0, 1:]).T)
        step = np.diff(p[:, :, 1:], axis=1)
        length = np.sum(np.sqrt(np.add.reduce(step * step, axis=2)), axis=1)  # np.linalg.norm's own arithmetic
        span = p[:, -1, 0] - p[:, 0, 0]
        mem["straightness"][at] = np.where(length > 1e-6, net / np.where(length > 1e-6, length, 1.0), 0.0)
        mem["net_speed"][at] = net / span
    for batch in by_spread.values():
        at = np.array([slot for slot, _ in batch], dtype=np.int64)
        xy = np.array([rows for _, rows in batch])[:, :, 1:]  # (g, k, 2)
        off = xy - (np.add.reduce(xy, axis=1) / xy.shape[1])[:, None, :]  # xy.mean(axis=1)'s arithmetic
        mem["spread_m"][at] = np.max(np.sqrt(np.add.reduce(off * off, axis=2)), axis=1)


def _opt(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def to_dict(mem: dict[str, np.ndarray], slot: int) -> dict[str, object]:
    """One track's memory in the snapshot format."""
    crossed = None if np.isnan(mem["crossed_e"][slot]) else [float(mem["crossed_e"][slot]), float(mem["crossed_n"][slot])]
    moving = None if np.isnan(mem["straightness"][slot]) else [float(mem["straightness"][slot]), float(mem["net_speed"][slot])]
    return {
        "side": int(mem["side"][slot]), "pending": int(mem["pending"][slot]), "crossed_at": _opt(mem["crossed_at"][slot]),
        "crossed_xy": crossed, "near_since": _opt(mem["near_since"][slot]), "path": [list(p) for p in mem["path"][slot]],
        "via_port": bool(mem["via_port"][slot]), "loitered": bool(mem["loitered"][slot]),
        "farthest_m": float(mem["farthest_m"][slot]), "deepest_out_m": _opt(mem["deepest_out_m"][slot]),
        "moving": moving, "spread_m": _opt(mem["spread_m"][slot]),
    }


def from_dict(d: dict) -> dict[str, object]:
    """One track's memory from a snapshot: a value per column."""
    path = [tuple(p) for p in d["path"]]
    crossed, moving = d["crossed_xy"], d["moving"]
    return {
        "side": d["side"], "pending": d["pending"], "crossed_at": _nan(d["crossed_at"]),
        "crossed_e": np.nan if crossed is None else crossed[0], "crossed_n": np.nan if crossed is None else crossed[1],
        "near_since": _nan(d["near_since"]), "via_port": d["via_port"], "farthest_m": d["farthest_m"],
        "deepest_out_m": np.inf if d["deepest_out_m"] is None else d["deepest_out_m"], "loitered": d["loitered"],
        "straightness": np.nan if moving is None else moving[0], "net_speed": np.nan if moving is None else moving[1],
        "spread_m": np.inf if d["spread_m"] is None else d["spread_m"],
        "path_t": path[-1][0] if path else -np.inf, "path": path,
    }


def _nan(x: float | None) -> float:
    return np.nan if x is None else x
