"""Groups: tracks close together and moving alike are one situation and share one alert.

Two tracks are linked when they are within ``distance_m`` of each other and their
velocities differ by less than ``speed_diff_mps``; groups are the connected
components of that graph (a column of walkers 40 m apart is one group even if its
ends are 200 m apart). Close pairs come from a KD-tree (cost ~ n log n plus the close
pairs, not n x n: a sector can hold a thousand tracks); components from scipy.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

#: Relative slack on the KD-tree radius so its own rounding never drops a pair the exact test keeps.
_RADIUS_SLACK = 1e-9


def _linked(xy: NDArray[np.float64], v: NDArray[np.float64], i: NDArray[np.int64], j: NDArray[np.int64],
            distance_m: float, speed_diff_mps: float) -> NDArray[np.bool_]:
    """The link test of the module doc for row pairs (i, j): close and moving alike."""
    return (np.linalg.norm(xy[i] - xy[j], axis=-1) < distance_m) & (np.linalg.norm(v[i] - v[j], axis=-1) < speed_diff_mps)


def group_labels(xy: NDArray[np.float64], v: NDArray[np.float64], distance_m: float, speed_diff_mps: float) -> NDArray[np.int64]:
    """Group label per row; labels are numbered in order of each group's first row."""
    n = xy.shape[0]
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(distance_m * (1.0 + _RADIUS_SLACK), output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    # The exact link test of the definition, on the candidate pairs only.
    keep = _linked(xy, v, i, j, distance_m, speed_diff_mps)
    adj = coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (i[keep], j[keep])), shape=(n, n))
    # connected_components labels components in order of their lowest row.
    _, labels = connected_components(adj.tocsr(), directed=False)
    return labels.astype(np.int64)


def reachable(xy: NDArray[np.float64], v: NDArray[np.float64], alive: NDArray[np.bool_], seeds: NDArray[np.int64],
              distance_m: float, speed_diff_mps: float) -> NDArray[np.bool_]:
    """Rows linked to a seed row by a chain of links (the same link test as ``group_labels``).

    The union of the seeds' groups, found by a breadth-first search over a KD-tree of
    the ``alive`` rows: the cost is a tree build plus the groups' own size, instead of
    every close pair of a sector with thousands of tracks. ``group_labels`` over the
    rows found gives exactly the groups it gives over all rows.
    """
    reached = np.zeros(alive.size, dtype=bool)
    live = np.flatnonzero(alive)
    if seeds.size == 0 or live.size == 0:
        return reached
    tree = cKDTree(xy[live])
    reached[seeds] = True
    frontier = np.unique(seeds)
    while frontier.size:
        hits = tree.query_ball_point(xy[frontier], distance_m * (1.0 + _RADIUS_SLACK), return_sorted=False)
        lens = np.fromiter(map(len, hits), dtype=np.int64, count=frontier.size)
        src = np.repeat(frontier, lens)
        dst = live[np.fromiter(chain.from_iterable(hits), dtype=np.int64, count=int(lens.sum()))]
        link = _linked(xy, v, src, dst, distance_m, speed_diff_mps)
        frontier = np.unique(dst[link & ~reached[dst]])
        reached[frontier] = True
    return reached


def match_groups(groups: list[frozenset[str]], alerts: list[tuple[str, frozenset[str]]]) -> tuple[dict[int, str], dict[str, int]]:
    """Pair each open alert with the group that holds most of its tracks.

    ``groups``: track-id sets; ``alerts``: (alert_id, track ids) in id order. Returns
    (group index -> alert id that carries on, for groups that have one) and (alert
    id -> group index it merged into, for an alert whose group is already carried
    by an older alert: the groups merged, so the younger alert ends).
    """
    owner: dict[int, str] = {}
    merged: dict[str, int] = {}
    group_of = {tid: g for g, members in enumerate(groups) for tid in members}
    for alert_id, tracks in alerts:
        overlaps = Counter(group_of[tid] for tid in tracks if tid in group_of)
        if not overlaps:
            continue
        best = min(overlaps, key=lambda g: (-overlaps[g], g))  # most shared tracks, then the first group
        if best in owner:
            merged[alert_id] = best
        else:
            owner[best] = alert_id
    return owner, merged
