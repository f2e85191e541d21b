"""Groups: tracks close together and moving alike are one situation and share one alert.

Two tracks are linked when they are within ``distance_m`` of each other and their
velocities differ by less than ``speed_diff_mps``; groups are the connected
components of that graph (a column of walkers 40 m apart is one group even if its
ends are 200 m apart). Pairwise tests are n x n arrays; components come from scipy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

#: Up to this many tracks, groups come from a dense transitive closure; beyond, from scipy's sparse graph.
DENSE_MAX = 150


def group_labels(xy: NDArray[np.float64], v: NDArray[np.float64], distance_m: float, speed_diff_mps: float) -> NDArray[np.int64]:
    """Group label per row; labels are numbered in order of each group's first row."""
    n = xy.shape[0]
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    dpos = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
    dvel = np.linalg.norm(v[:, None, :] - v[None, :, :], axis=-1)
    adj = (dpos < distance_m) & (dvel < speed_diff_mps)
    if n > DENSE_MAX:
        _, labels = connected_components(csr_matrix(adj), directed=False)
        return labels.astype(np.int64)
    # Transitive closure by repeated squaring (log2 n boolean products): cheaper than a
    # sparse graph for the tens of tracks a sector holds. Label = first row reachable.
    reach = adj.astype(np.float64)
    for _ in range(int(np.ceil(np.log2(n))) + 1):
        nxt = np.minimum(reach @ reach + reach, 1.0)
        if np.array_equal(nxt, reach):
            break
        reach = nxt
    first = np.argmax(reach > 0, axis=1)
    _, labels = np.unique(first, return_inverse=True)
    return labels.astype(np.int64)


def match_groups(groups: list[frozenset[str]], alerts: list[tuple[str, frozenset[str]]]) -> tuple[dict[int, str], dict[str, int]]:
    """Pair each open alert with the group that holds most of its tracks.

    ``groups``: track-id sets; ``alerts``: (alert_id, track ids) in id order. Returns
    (group index -> alert id that carries on, for groups that have one) and (alert
    id -> group index it merged into, for an alert whose group is already carried
    by an older alert: the groups merged, so the younger alert ends).
    """
    owner: dict[int, str] = {}
    merged: dict[str, int] = {}
    for alert_id, tracks in alerts:
        overlaps = [len(g & tracks) for g in groups]
        if not overlaps or max(overlaps) == 0:
            continue
        best = int(np.argmax(overlaps))
        if best in owner:
            merged[alert_id] = best
        else:
            owner[best] = alert_id
    return owner, merged
