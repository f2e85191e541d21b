"""Groups: tracks close together and moving alike are one situation and share one alert.

Two tracks are linked when they are within ``distance_m`` of each other and their
velocities differ by less than ``speed_diff_mps``; groups are the connected
components of that graph (a column of walkers 40 m apart is one group even if its
ends are 200 m apart).

A call needs only the groups of a few tracks among thousands (``AlertEngine``), so
``GroupSearch`` grows them from seed tracks by a breadth-first search: close pairs
come from a grid of square cells of side ``distance_m`` (a linked pair lies in the
same or adjacent cells), built by one sort of the live tracks' cell keys; the cost
is that sort plus the groups' own size, instead of a KD-tree build over every live
track. The links met on the way are exactly the groups' edges (every reached track
is expanded once), so the components come from them with no second search.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

#: Relative slack on the cell side so rounding never puts a linked pair two cells apart
#: (coordinates are < 1e6 m, so x / side is off by < 1e-10 cells).
_CELL_SLACK = 1e-9


def _linked(xv: NDArray[np.float64], i: IntArray, j: IntArray, distance_m: float, speed_diff_mps: float) -> NDArray[np.bool_]:
    """The link test of the module doc for row pairs (i, j) of ``xv`` (east, north, v east, v north): close and moving alike.

    Norms as ``np.linalg.norm(axis=-1)`` computes them (sqrt of the reduced squares: for two
    components, the first square plus the second), both pairs of components in one pass.
    """
    diff = xv[i] - xv[j]
    sq = diff * diff
    norm = np.sqrt(sq[:, 0::2] + sq[:, 1::2])  # (m, 2): distance m, velocity difference m/s
    return (norm[:, 0] < distance_m) & (norm[:, 1] < speed_diff_mps)


class GroupSearch:
    """The groups of chosen rows among the ``alive`` rows of (xy, v), grown on demand.

    ``grow(seeds)`` adds the seeds' groups to ``reached`` (it may be called again with
    more seeds); ``labels()`` numbers the groups of the reached rows in order of each
    group's first row, as connected components over all alive rows would.
    """

    def __init__(self, xy: NDArray[np.float64], v: NDArray[np.float64], alive: NDArray[np.bool_],
                 distance_m: float, speed_diff_mps: float) -> None:
        self._xv = np.concatenate([xy, v], axis=1)  # (rows, 4): one gather per side of a candidate pair
        self._distance_m, self._speed_diff_mps = distance_m, speed_diff_mps
        self._reached = np.zeros(alive.size, dtype=bool)
        self._src: list[IntArray] = []  # links found, both directions (src, dst rows)
        self._dst: list[IntArray] = []
        # Cell (i, j) of a row has key i * width + j - lo_y, with a free cell row below and above the
        # occupied ones, so the 9 cells around a row have keys key + dx * width + dy, never aliased:
        # for each dx, the three dy are consecutive keys, one run of the sorted rows.
        live = np.flatnonzero(alive)
        cell = np.floor(xy[live] / (distance_m * (1.0 + _CELL_SLACK))).astype(np.int64)
        lo_y = int(cell[:, 1].min(initial=0)) - 1
        width = int(cell[:, 1].max(initial=0)) - lo_y + 2
        self._key = np.full(alive.size, -1, dtype=np.int64)  # per row; -1: not alive
        self._key[live] = cell[:, 0] * width + (cell[:, 1] - lo_y)
        self._rows = live[np.argsort(self._key[live])]  # alive rows by cell key
        self._sorted = self._key[self._rows]
        self._around = np.array([-width - 1, -1, width - 1], dtype=np.int64)  # first key of each run

    @property
    def reached(self) -> IntArray:
        """Rows reached so far, ascending."""
        return np.flatnonzero(self._reached)

    def grow(self, seeds: IntArray) -> IntArray:
        """Add the groups of these (alive) rows; return the rows this call reached (each once)."""
        frontier = self._take(seeds)
        found = [frontier]
        while frontier.size:
            near = (self._key[frontier][:, None] + self._around[None, :]).ravel()
            lo = np.searchsorted(self._sorted, near, side="left")
            n = np.searchsorted(self._sorted, near + 2, side="right") - lo  # the run's three cells
            total = int(n.sum())
            # Rows of every neighbouring run, flattened: position k of run c reads _rows[lo[c] + k].
            start = np.cumsum(n) - n
            dst = self._rows[np.repeat(lo - start, n) + np.arange(total)]
            src = np.repeat(np.repeat(frontier, self._around.size), n)
            link = _linked(self._xv, src, dst, self._distance_m, self._speed_diff_mps)
            self._src.append(src[link])
            self._dst.append(dst[link])
            frontier = self._take(dst[link])
            found.append(frontier)
        return np.concatenate(found)

    def labels(self) -> IntArray:
        """Group label per reached row (ascending rows), numbered in order of each group's first row.

        Each row takes the lowest row it links to, then follows those pointers to their
        end (pointer jumping), until nothing changes: every row then holds the lowest row
        of its component.
        """
        rows = self.reached
        if rows.size == 0:
            return np.zeros(0, dtype=np.int64)
        src = np.searchsorted(rows, np.concatenate(self._src))
        dst = np.searchsorted(rows, np.concatenate(self._dst))
        index = np.arange(rows.size)
        low = index
        while True:
            nxt = low.copy()
            np.minimum.at(nxt, src, low[dst])
            nxt = nxt[nxt]
            while (nxt != nxt[nxt]).any():
                nxt = nxt[nxt]
            if (nxt == low).all():
                first = low == index  # the lowest row of each group; its rank is the group's label
                return (np.cumsum(first) - 1)[low]
            low = nxt

    def _take(self, rows: IntArray) -> IntArray:
        """The rows not reached yet among ``rows`` (ascending, once each); marks them reached."""
        new = np.zeros(self._reached.size, dtype=bool)
        new[rows] = True
        new &= ~self._reached
        self._reached |= new
        return np.flatnonzero(new)


def match_groups(group_of: dict[str, int], alerts: list[tuple[str, frozenset[str]]]) -> tuple[dict[int, str], dict[str, int]]:
    """Pair each open alert with the group that holds most of its tracks.

    ``group_of``: the group index of each track in a group (at least of the alerts' tracks);
    ``alerts``: (alert_id, track ids) in id order. Returns
    (group index -> alert id that carries on, for groups that have one) and (alert
    id -> group index it merged into, for an alert whose group is already carried
    by an older alert: the groups merged, so the younger alert ends).
    """
    owner: dict[int, str] = {}
    merged: dict[str, int] = {}
    for alert_id, tracks in alerts:
        overlaps: dict[int, int] = {}  # group -> shared tracks (a dict: a Counter costs more than the count for one track)
        for tid in tracks:
            g = group_of.get(tid)
            if g is not None:
                overlaps[g] = overlaps.get(g, 0) + 1
        if not overlaps:
            continue
        best = min(overlaps, key=lambda g: (-overlaps[g], g))  # most shared tracks, then the first group
        if best in owner:
            merged[alert_id] = best
        else:
            owner[best] = alert_id
    return owner, merged
