"""Track management: existence, status, deletion and duplicate merge.

Existence r (IPDA, Musicki, Evans & Stankovic 1994) is the sequential score:

    predict:  r <- r exp(-dt / tau)                              (survival)
    miss:     r <- r (1 - Pd) / (1 - Pd r)                        (radar scan covering the track)
    hit:      r <- (w_ij + r (1 - Pd)) / (w_ij + w_i0)             (GNN, weights as in association)
              r <- sum_j p_ij + p_i0 r (1 - Pd) / (1 - Pd r)        (JPDA marginals)

capped at ``max_existence`` so that a run of misses can end a track. Status:
tentative until r reaches ``confirm_existence`` once; then confirmed, or coasting
when not updated for ``coast_after_s``. What to show (``reportable``): a confirmed
or coasting track while r >= ``report_existence`` (0.5, the GOSPA-optimal decision
for a calibrated r, config.py); with Pd 0.9 and the 0.999 cap that is up to two
scans after the last detection (r 0.999 -> 0.990 -> 0.908 -> 0.496 on misses).
Deleted when r < ``delete_existence`` or not updated for ``max_tentative_age_s`` / ``max_coast_s`` (``k9_max_age_s`` for a
track only K-9 teams have seen).

Duplicate merge: two tracks closer than ``merge_distance_m`` whose state difference
passes the chi-squared(4) test with the sum of their covariances, for
``merge_steps`` consecutive steps in none of which one scan updated both, are one
object (two real people crossing are both detected by most radar scans; a
duplicate shares the object's detections, one per scan); the older track (lower
serial) survives and takes the union of sensors. A pair is looked at (and its count
moves on or is reset) only in the steps that detect at least one of the two: a scan
of another place says nothing about them, so the count is of the scans that see
the object, not of the sector's traffic (``dup_of``/``dup_n`` keep it between them).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.config import TrackerConfig
from fusion.tracking.gating import east_band
from fusion.tracking.table import TrackTable
from fusion.types import TrackReport, TrackStatus

FloatArray = NDArray[np.float64]


def miss_update(r: FloatArray, pd: float) -> FloatArray:
    return r * (1.0 - pd) / (1.0 - pd * r)


def status_codes(tab: TrackTable, now: float, cfg: TrackerConfig) -> NDArray[np.int8]:
    """1 tentative, 2 confirmed, 3 coasting, per row at time ``now``."""
    coasting = (now - tab.last_update) > cfg.coast_after_s
    return np.where(tab.confirmed, coasting + np.int8(2), np.int8(1))  # int8 throughout: 2 or 3, else 1


def reportable(report: TrackReport, cfg: TrackerConfig) -> bool:
    """Whether a track belongs in the picture: confirmed or coasting with r >= ``report_existence``.

    Expected GOSPA (cut-off c, alpha = 2) of one track of existence r and error d:
    shown, (1 - r) c^p/2 + r d^p; hidden, r c^p/2; so show it when
    r > c^p / (2 (c^p - d^p)), about 0.5. A coasting track after three radar misses
    (r < 0.5) is more likely gone than there, though kept for re-association. Only
    as good as r is honest: where the radar is shadowed (true Pd far below
    ``pd_by_type``) misses say less than r assumes and this hides real objects.
    """
    return report.status in (TrackStatus.CONFIRMED, TrackStatus.COASTING) and report.existence >= cfg.report_existence


def existence_at(tab: TrackTable, now: float, cfg: TrackerConfig) -> FloatArray:
    """Existence of every row at ``now`` from its own time: r exp(-(now - t) / tau) (survival composes exactly)."""
    return tab.r * np.exp(-np.maximum(now - tab.t, 0.0) / cfg.survival_tau_s)


def stale(tab: TrackTable, now: float, cfg: TrackerConfig, k9_mask: NDArray[np.uint64] | None = None) -> NDArray[np.bool_]:
    """Rows to delete: existence too low, or not updated for too long (``k9_mask``: the K-9
    sensors' bits, in the words of ``tab.sensors``; None: the site has no K-9 team)."""
    age = now - tab.last_update
    if k9_mask is None:
        k9_only = np.zeros(tab.n, bool)
    else:  # seen by some sensor, and by none but K-9 teams
        k9_only = ((tab.sensors & ~k9_mask) == 0).all(axis=1) & (tab.sensors != 0).any(axis=1)
    limit = np.where(k9_only, cfg.k9_max_age_s,
                     np.where(tab.confirmed, cfg.max_coast_s, cfg.max_tentative_age_s))
    return (existence_at(tab, now, cfg) < cfg.delete_existence) | (age > limit)


def near_pairs(pos: FloatArray, distance: float, anchor: NDArray[np.int64]) -> NDArray[np.int64]:
    """(k, 2) pairs of rows closer than ``distance`` (positions (n, 2)) with at least one row in
    ``anchor`` (distinct rows): each pair once, as (lower row, higher row), in sorted order.

    The anchors' bounding box grown by ``distance`` (a few vector operations per row),
    then for each anchor the rows of the box in its east band (``gating.east_band``),
    kept when de^2 + dn^2 <= distance^2: a KD-tree's pair test, bit for bit. A step finds
    a few pairs at most, so their de-duplication is a Python set, not ``np.unique``
    (several array calls of fixed cost each).
    """
    if anchor.size == 0:
        return np.zeros((0, 2), np.int64)
    e, n = pos[:, 0], pos[:, 1]
    ae, an = e[anchor], n[anchor]
    lo_e, hi_e, lo_n, hi_n = ae.min() - distance, ae.max() + distance, an.min() - distance, an.max() + distance
    box = ((e >= lo_e) & (e <= hi_e) & (n >= lo_n) & (n <= hi_n)).nonzero()[0]
    eb = e[box]
    order = eb.argsort(kind="stable")
    q, k = east_band(eb[order], ae, float(distance))
    ra, rb = anchor[q], box[order[k]]
    de = ae[q] - e[rb]
    dn = an[q] - n[rb]
    ok = (de * de + dn * dn <= distance * distance) & (ra != rb)
    ra, rb = ra[ok], rb[ok]
    # one pair per unordered pair, sorted (two anchors find each other twice)
    found = set(zip(np.minimum(ra, rb).tolist(), np.maximum(ra, rb).tolist()))
    return np.array(sorted(found), np.int64).reshape(-1, 2)


def duplicates(
    x: FloatArray, P: FloatArray, ids: NDArray[np.int64], pairs: NDArray[np.int64], threshold: float
) -> tuple[NDArray, NDArray]:
    """(keep, drop) rows of the candidate ``pairs`` that are duplicates; each row is dropped at most once."""
    if pairs.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = pairs[:, 0], pairs[:, 1]
    d = x[a] - x[b]
    S = P[a] + P[b]
    d2 = np.einsum("ki,ki->k", d, np.linalg.solve(S, d[..., None])[..., 0])
    ok = d2 < threshold
    a, b = a[ok], b[ok]
    keep = np.where(ids[a] < ids[b], a, b)
    drop = np.where(ids[a] < ids[b], b, a)
    # a row that is dropped cannot also absorb another: drop chains resolve to the oldest
    drop_set = set()
    k_out, d_out = [], []
    for k, dr in sorted(zip(keep.tolist(), drop.tolist()), key=lambda kd: ids[kd[0]]):
        if k in drop_set or dr in drop_set:
            continue
        drop_set.add(dr)
        k_out.append(k)
        d_out.append(dr)
    return np.asarray(k_out, np.int64), np.asarray(d_out, np.int64)
