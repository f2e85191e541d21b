"""Tracking accuracy metrics: GOSPA, ID switches and fragmentation, RMSE, NEES/NIS.

Pure numpy/scipy, no I/O. Used by the tracker tests, the benchmarks and
``borderwatch score``.

Interface
---------
``gospa(truth_xy, est_xy, c=100.0, p=2.0) -> Gospa``
    Generalised OSPA (Rahmathullah, Garcia-Fernandez, Svensson 2017) with alpha = 2
    between truth positions ``(n, 2)`` and estimates ``(m, 2)`` at one instant::

        GOSPA = ( sum_{(i,j) assigned} d_ij^p + c^p/2 * (n_missed + n_false) )^(1/p)

    minimised over assignments; a pair with d_ij >= c costs as much as a miss plus a
    false track, so it is reported as both (as Stone Soup does). Only pairs closer
    than c can matter, so large sets are split with a KD-tree into connected
    groups of such pairs, each solved on its own (exact, and memory grows with the
    close pairs, not n x m). ``Gospa`` holds
    ``total`` (metres), ``localisation``, ``missed`` and ``false`` (the three parts
    of the sum *before* the 1/p root, in metres^p, so that
    ``total**p == localisation + missed + false``), ``n_missed``, ``n_false`` and
    ``assignment`` ((k, 2) int array of (truth index, estimate index) pairs with
    d < c). Solved with ``scipy.optimize.linear_sum_assignment`` on a vectorised
    cost matrix.

``IdTracker()`` with ``update(truth_ids, track_ids) -> (switches, fragmentations)``
    Feed, at each time, the truth ids present and, row-aligned, the track id
    assigned to each (``None`` when unassigned). ``switches`` counts a truth whose
    assigned track differs from the last track it had (CLEAR-MOT style ID switch);
    ``fragmentations`` counts a truth that is tracked again after a gap in which it
    was present but untracked. Totals in ``.switches`` and ``.fragmentations``.
    ``update_from_gospa(truth_ids, track_ids_all, g)`` does the same from a
    ``Gospa`` assignment. ``update_positions(truth_ids, truth_xy, track_ids,
    est_xy, gate=c)`` matches CLEAR-MOT style (Bernardin & Stiefelhagen 2008): a
    truth keeps last step's track while that track is within ``gate`` metres, the
    rest are assigned by minimum total distance; use it to count switches, since a
    per-instant optimal assignment may swap two tracks that are both right while
    their objects pass within metres of each other.

``id_switches(series) -> IdStats(switches, fragmentations)``
    The same over an iterable of (truth_ids, assigned_track_ids) pairs.

``rmse(truth_xy, est_xy) -> float``: root mean square Euclidean error of paired rows.

``nees(err, P) -> (n,)``: normalised estimation error squared e^T P^-1 e per row;
also used for NIS with the innovation and its covariance S.

``chi2_interval(dof, n, confidence=0.95) -> (lo, hi)``: two-sided bounds for the
*mean* of n independent NEES values of ``dof`` degrees of freedom (n * mean is
chi-squared with n*dof degrees of freedom, Bar-Shalom et al. 2001, sec. 5.4).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import chi2

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Gospa:
    """GOSPA (alpha = 2) at one instant and its parts (see the module docstring)."""

    total: float  # metres
    localisation: float  # metres^p, sum of d^p over assigned pairs
    missed: float  # metres^p, c^p/2 per missed truth
    false: float  # metres^p, c^p/2 per false estimate
    n_missed: int
    n_false: int
    assignment: NDArray[np.int64]  # (k, 2) truth index, estimate index


def _as_points(a: ArrayLike) -> FloatArray:
    arr = np.asarray(a, dtype=float)
    if arr.size == 0:
        return np.zeros((0, 2 if arr.ndim < 2 else arr.shape[-1]))
    return arr.reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr.reshape(1, -1)


def gospa(truth_xy: ArrayLike, est_xy: ArrayLike, c: float = 100.0, p: float = 2.0) -> Gospa:
    """GOSPA with alpha = 2 between truth ``(n, d)`` and estimates ``(m, d)`` positions."""
    if c <= 0 or p < 1:
        raise ValueError("GOSPA needs c > 0 and p >= 1")
    x = _as_points(truth_xy)
    y = _as_points(est_xy)
    n, m = x.shape[0], y.shape[0]
    half = c**p / 2.0
    if n == 0 or m == 0:
        return Gospa(
            total=float((half * (n + m)) ** (1.0 / p)),
            localisation=0.0,
            missed=half * n,
            false=half * m,
            n_missed=n,
            n_false=m,
            assignment=np.zeros((0, 2), dtype=np.int64),
        )
    rows, cols, dist = _assign_within(x, y, c, p)
    loc = float((dist**p).sum())
    k = rows.size
    n_missed, n_false = n - k, m - k
    missed, false = half * n_missed, half * n_false
    return Gospa(
        total=float((loc + missed + false) ** (1.0 / p)),
        localisation=loc,
        missed=missed,
        false=false,
        n_missed=n_missed,
        n_false=n_false,
        assignment=np.stack([rows, cols], axis=1).astype(np.int64),
    )


def _assign_within(x: FloatArray, y: FloatArray, gate: float, p: float,
                   dense_limit: int = 250_000) -> tuple[NDArray[np.int64], NDArray[np.int64], FloatArray]:
    """Minimum sum of d^p one-to-one assignment using only pairs with d < gate.

    Returns (rows, cols, d) of the assigned pairs. Pairs at or beyond the gate are
    never taken (for GOSPA they cost no less than a miss plus a false track).
    Small problems are solved densely; larger ones per connected group of close
    pairs found with a KD-tree.
    """
    n, m = x.shape[0], y.shape[0]
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if n == 0 or m == 0:
        return empty
    if n * m <= dense_limit:
        d = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1))
        r, c = linear_sum_assignment(np.minimum(d, gate) ** p)
        keep = d[r, c] < gate
        return r[keep].astype(np.int64), c[keep].astype(np.int64), d[r, c][keep]
    sp = cKDTree(x).sparse_distance_matrix(cKDTree(y), gate, output_type="coo_matrix")
    keep = sp.data < gate
    ti, ej, dd = sp.row[keep].astype(np.int64), sp.col[keep].astype(np.int64), sp.data[keep]
    if ti.size == 0:
        return empty
    g = coo_matrix((np.ones(ti.size), (ti, n + ej)), shape=(n + m, n + m))
    lab = connected_components(g, directed=False)[1][ti]
    order = np.argsort(lab, kind="stable")
    bounds = np.flatnonzero(np.r_[True, lab[order][1:] != lab[order][:-1], True])
    out_r, out_c, out_d = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        tr, tinv = np.unique(ti[idx], return_inverse=True)
        es, einv = np.unique(ej[idx], return_inverse=True)
        C = np.full((tr.size, es.size), gate**p)
        C[tinv, einv] = dd[idx] ** p
        D = np.full((tr.size, es.size), np.inf)
        D[tinv, einv] = dd[idx]
        r, c = linear_sum_assignment(C)
        ok = D[r, c] < gate
        out_r.append(tr[r[ok]])
        out_c.append(es[c[ok]])
        out_d.append(D[r, c][ok])
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_d)


@dataclass(frozen=True)
class IdStats:
    switches: int
    fragmentations: int


@dataclass
class IdTracker:
    """Counts ID switches and track fragmentations over a time series (module docstring)."""

    switches: int = 0
    fragmentations: int = 0
    _last_track: dict[Hashable, Hashable] = field(default_factory=dict)
    _gap: dict[Hashable, bool] = field(default_factory=dict)  # present, untracked since last tracked

    def update(self, truth_ids: Sequence[Hashable], track_ids: Sequence[Hashable | None]) -> tuple[int, int]:
        if len(truth_ids) != len(track_ids):
            raise ValueError("truth_ids and track_ids must be row-aligned")
        sw = fr = 0
        for truth, track in zip(truth_ids, track_ids):
            if track is None:
                if truth in self._last_track:
                    self._gap[truth] = True
                continue
            last = self._last_track.get(truth)
            if last is not None and last != track:
                sw += 1
            if self._gap.pop(truth, False):
                fr += 1
            self._last_track[truth] = track
        self.switches += sw
        self.fragmentations += fr
        return sw, fr

    def update_from_gospa(
        self, truth_ids: Sequence[Hashable], track_ids: Sequence[Hashable], g: Gospa
    ) -> tuple[int, int]:
        """Update from a GOSPA assignment: truth i is tracked by track_ids[j] for (i, j) pairs."""
        assigned: list[Hashable | None] = [None] * len(truth_ids)
        for i, j in g.assignment:
            assigned[int(i)] = track_ids[int(j)]
        return self.update(truth_ids, assigned)


    def update_positions(
        self,
        truth_ids: Sequence[Hashable],
        truth_xy: ArrayLike,
        track_ids: Sequence[Hashable],
        est_xy: ArrayLike,
        gate: float = 100.0,
    ) -> tuple[int, int]:
        """Sticky (CLEAR-MOT) matching of truths to tracks within ``gate`` metres, then update."""
        x = _as_points(truth_xy)
        y = _as_points(est_xy)
        assigned: list[Hashable | None] = [None] * len(truth_ids)
        if x.shape[0] and y.shape[0]:
            col = {tid: j for j, tid in enumerate(track_ids)}
            prev = np.array([col.get(self._last_track.get(t), -1) for t in truth_ids], dtype=np.int64)
            has = np.flatnonzero(prev >= 0)
            free_t = np.ones(x.shape[0], bool)
            free_e = np.ones(y.shape[0], bool)
            if has.size:
                d = np.hypot(*(x[has] - y[prev[has]]).T)
                for i, j in zip(has[d < gate].tolist(), prev[has][d < gate].tolist()):
                    if free_e[j]:
                        assigned[i] = track_ids[j]
                        free_t[i] = free_e[j] = False
            ti, ej = np.flatnonzero(free_t), np.flatnonzero(free_e)
            r, c, _ = _assign_within(x[ti], y[ej], gate, 1.0)
            for a, b in zip(ti[r].tolist(), ej[c].tolist()):
                assigned[a] = track_ids[b]
        return self.update(truth_ids, assigned)


def id_switches(series: Iterable[tuple[Sequence[Hashable], Sequence[Hashable | None]]]) -> IdStats:
    """ID switches and fragmentations over (truth_ids, assigned_track_ids) per time step."""
    t = IdTracker()
    for truth_ids, track_ids in series:
        t.update(truth_ids, track_ids)
    return IdStats(t.switches, t.fragmentations)


def rmse(truth_xy: ArrayLike, est_xy: ArrayLike) -> float:
    """Root mean square Euclidean error over paired rows (NaN when there are none)."""
    a = _as_points(truth_xy)
    b = _as_points(est_xy)
    if a.shape != b.shape:
        raise ValueError("truth and estimates must be row-aligned")
    if a.shape[0] == 0:
        return float("nan")
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


def nees(err: ArrayLike, P: ArrayLike) -> FloatArray:
    """e^T P^-1 e for each row: err (n, d), P (n, d, d) -> (n,). Also NIS with (nu, S)."""
    e = np.asarray(err, dtype=float)
    cov = np.asarray(P, dtype=float)
    if e.ndim == 1:
        e, cov = e[None], cov[None]
    sol = np.linalg.solve(cov, e[..., None])[..., 0]
    return np.einsum("ni,ni->n", e, sol)


def chi2_interval(dof: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided interval for the mean of n NEES samples each chi-squared with dof degrees."""
    tail = (1.0 - confidence) / 2.0
    k = dof * n
    return float(chi2.ppf(tail, k) / n), float(chi2.ppf(1.0 - tail, k) / n)
