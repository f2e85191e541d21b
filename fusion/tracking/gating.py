"""Gating: KD-tree pre-gate in ENU, then the chi-squared gate in measurement space.

Pre-gate: a detection can pass the chi-squared gate of track i only if its ENU
distance is below r_i = sqrt(gamma * (lmax(P_i,pos) + max_j lmax(R_j))) (the
Mahalanobis ellipse of S = P + R lies inside the circle of its largest
eigenvalue); KD-trees over tracks and detections return those candidates, so cost
grows with the number of candidate pairs, not tracks x detections. ``rows_near``
finds, before any track is predicted, the tracks a scan can reach at all (bounding
box of the detections, then a KD-tree pair query) from an upper bound on each radius.

Chi-squared gate: with the combined (moment-matched) prediction of each track,
nu = z_j - h(x_i), S_ij = H_i P_i H_i^T + R_j, d^2 = nu^T S^-1 nu < gamma where
gamma is the chi-squared(2) quantile at ``gate_prob``. Also returns
log N(nu; 0, S) for the association weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.stats import chi2

from fusion.tracking.measurement import MeasurementModel, lmax2

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: Up to this many (track, detection) pairs ``candidate_pairs`` tests them all: cheaper
#: than building and querying two KD-trees there (a drone scan: ~90 x 50).
_DENSE_PAIRS = 8192


def gate_threshold(gate_prob: float, dof: int = 2) -> float:
    return float(chi2.ppf(gate_prob, dof))


def inv2(S: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverse and determinant of 2x2 matrices (..., 2, 2), closed form."""
    det = S[..., 0, 0] * S[..., 1, 1] - S[..., 0, 1] * S[..., 1, 0]
    inv = np.empty_like(S)
    inv[..., 0, 0] = S[..., 1, 1] / det
    inv[..., 1, 1] = S[..., 0, 0] / det
    inv[..., 0, 1] = -S[..., 0, 1] / det
    inv[..., 1, 0] = -S[..., 1, 0] / det
    return inv, det


def pregate_radius(track_Pen_lmax: FloatArray, det_lmax: float, gamma: float) -> FloatArray:
    """ENU pre-gate radius (n,) from the tracks' largest position variance and the detections'
    (``MeasurementModel.cart_R_lmax``) (module docstring)."""
    return 1.05 * np.sqrt(gamma * (track_Pen_lmax + det_lmax))


def east_band(e_sorted: FloatArray, centre: FloatArray, half: FloatArray | float) -> tuple[IntArray, IntArray]:
    """(query, index into ``e_sorted``) of every sorted value within ``half`` of each query's ``centre`` east.

    A band in east alone, by binary search: the pairs a distance test then looks at,
    about (queries x values x band width / span) instead of all of them. The band is
    widened by 1e-9 relative (and of the coordinates' magnitude) so that rounding in
    the distance test never keeps a pair the band left out.
    """
    half = half * (1.0 + 1e-9) + 1e-9 * np.abs(centre)
    lo = e_sorted.searchsorted(centre - half, "left")  # methods: no Python wrapper per call
    cnt = e_sorted.searchsorted(centre + half, "right") - lo
    q = np.arange(centre.size).repeat(cnt)
    start = cnt.cumsum() - cnt
    return q, np.arange(q.size) - (start - lo).repeat(cnt)


def rows_near(track_en: FloatArray, radius: FloatArray, det_en: FloatArray) -> IntArray:
    """Rows whose circle (centre, radius) holds at least one detection.

    First the detections' bounding box (a few vector operations per track), then for
    each track inside it the detections in its east band (``east_band``): a track is
    near when one of them lies at sqrt(de^2 + dn^2) <= radius, what a KD-tree query of
    its nearest detection would give bit for bit, without building the tree.
    """
    if track_en.shape[0] == 0 or det_en.shape[0] == 0:
        return np.zeros(0, np.int64)
    lo, hi = det_en.min(axis=0), det_en.max(axis=0)
    e, n = track_en[:, 0], track_en[:, 1]
    de = np.maximum(np.maximum(lo[0] - e, e - hi[0]), 0.0)
    dn = np.maximum(np.maximum(lo[1] - n, n - hi[1]), 0.0)
    box = (de * de + dn * dn <= radius * radius).nonzero()[0]
    if box.size == 0:
        return box.astype(np.int64)
    r, tb_e, tb_n = radius[box], e[box], n[box]
    det_e, det_n = det_en[:, 0], det_en[:, 1]
    order = det_e.argsort(kind="stable")
    q, k = east_band(det_e[order], tb_e, r)
    j = order[k]
    de = tb_e[q] - det_e[j]
    dn = tb_n[q] - det_n[j]
    near = np.zeros(box.size, bool)
    near[q[np.sqrt(de * de + dn * dn) <= r[q]]] = True
    return box[near].astype(np.int64, copy=False)


def candidate_pairs(
    track_en: FloatArray, track_Pen: FloatArray, det_en: FloatArray, det_lmax: float, gamma: float
) -> tuple[IntArray, IntArray]:
    """(track, detection) index pairs within the ENU pre-gate radius (module docstring).

    Up to ``_DENSE_PAIRS`` tracks x detections, every distance at once (the nonzeros of
    the mask come out in (track, detection) order); beyond, one KD-tree over the tracks
    and one over the detections, whose sparse distance matrix up to the largest radius
    gives the pairs, filtered by each track's own radius. Either way no Python loop.
    """
    n, m = track_en.shape[0], det_en.shape[0]
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    radius = pregate_radius(lmax2(track_Pen), det_lmax, gamma)
    if n * m <= _DENSE_PAIRS:
        de = track_en[:, None, 0] - det_en[None, :, 0]
        dn = track_en[:, None, 1] - det_en[None, :, 1]
        ti, dj = (de * de + dn * dn <= (radius * radius)[:, None]).nonzero()
        return ti.astype(np.int64), dj.astype(np.int64)
    pairs = cKDTree(track_en).sparse_distance_matrix(cKDTree(det_en), float(radius.max()), output_type="ndarray")
    ti, dj = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    keep = pairs["v"] <= radius[ti]
    order = np.lexsort((dj[keep], ti[keep]))
    return ti[keep][order], dj[keep][order]


@dataclass(frozen=True)
class Gated:
    """Pairs inside the chi-squared gate: indices, d^2 and log-likelihood log N(nu; 0, S)."""

    ti: IntArray
    dj: IntArray
    d2: FloatArray
    loglik: FloatArray


def chi2_gate(
    x: FloatArray, P: FloatArray, model: MeasurementModel, ti: IntArray, dj: IntArray, gamma: float
) -> Gated:
    """Keep candidate pairs with Mahalanobis d^2 < gamma under the combined prediction."""
    if ti.size == 0:
        e = np.zeros(0)
        return Gated(ti, dj, e, e)
    if model.polar:
        hz, H = model.predict(x)  # per track
        Ht = H[ti]
        hz, HPHt = hz[ti], Ht @ P[ti] @ np.swapaxes(Ht, -1, -2)
    else:  # H = [I 0]: H P H^T is P's position block, the bits the products give (by 1 and 0, exact)
        hz, HPHt = x[:, :2].take(ti, axis=0), P[:, :2, :2].take(ti, axis=0)
    nu = model.residual(model.z.take(dj, axis=0), hz)
    S = HPHt + model.R.take(dj, axis=0)
    Si, det = inv2(S)
    d2 = np.einsum("ki,kij,kj->k", nu, Si, nu)
    keep = d2 < gamma
    loglik = -0.5 * d2[keep] - np.log(2.0 * np.pi) - 0.5 * np.log(det[keep])
    return Gated(ti[keep], dj[keep], d2[keep], loglik)
