"""Per-track features for alerting, computed for all live tracks at once.

Every track is first propagated to the alerting time ``now`` with a constant-
velocity model (x_now = x + v dt, P_now = F P F^T), then measured against the
border: signed distance ``d`` (positive on the protected side), the unit normal
``n`` of the nearest border segment, and the probability of crossing within the
horizon.

Predicted crossing. Near the line the border is locally straight, so the track's
signed distance evolves as d(t) = d0 + v_n t with v_n = v . n. Under a Gaussian
track estimate, d(H) is Gaussian with

    mean  m_H = d0 + v_n H
    var   s_H^2 = n^T P_pp n + 2 H n^T P_pv n + H^2 n^T P_vv n + q H^3 / 3

(the last term is unmodelled acceleration of power spectral density ``q``: a walker
changes pace). A track on the unprotected side (d0 < 0) crosses within the horizon
exactly when d(H) > 0, so P(cross within H) = Phi(m_H / s_H). The expected time is
eta = -d0 / v_n and the crossing point is the border point nearest x_now + v eta.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from fusion.alerting.position_cache import stack_reports
from fusion.geofence import Geofence
from fusion.types import CLASSES, TrackReport

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TrackTable:
    """Live tracks as row-aligned arrays, propagated to ``now``."""

    ids: tuple[str, ...]
    xy: FloatArray  # (n, 2) metres
    v: FloatArray  # (n, 2) m/s
    P: FloatArray  # (n, 4, 4)
    existence: FloatArray  # (n,)
    class_probs: FloatArray  # (n, 4) over CLASSES
    class_idx: NDArray[np.int64]  # (n,) index into CLASSES of the class alerting names (see ``display_class``)
    count: NDArray[np.int64]  # (n,)
    confirmed: NDArray[np.bool_]  # (n,) status confirmed (new alerts) ...
    alive: NDArray[np.bool_]  # (n,) ... or coasting (alerts kept)

    @property
    def size(self) -> int:
        return len(self.ids)


def display_class(probs: FloatArray, animal_prob: float) -> NDArray[np.int64]:
    """The class an alert speaks of: ``animal`` only when P(animal) >= ``animal_prob``,
    otherwise the likeliest of person, vehicle and unknown.

    A radar-only walker has no label, and a walking speed is as animal-like as it is
    person-like, so its raw argmax can be ``animal`` by a hair; wildlife is decided
    from labels that say so, or from motion (``AlertEngine``), not from that tie.
    """
    probs = np.atleast_2d(probs)
    animal = CLASSES.index("animal")
    others = probs.copy()
    others[:, animal] = -1.0
    return np.where(probs[:, animal] >= animal_prob, animal, np.argmax(others, axis=1)).astype(np.int64)


def track_table(reports: list[TrackReport], now: float, animal_prob: float = 0.6) -> TrackTable:
    """Stack reports (one per track) and propagate each to ``now`` at constant velocity."""
    return table_at(tuple(r.track_id for r in reports), stack_reports(reports), now, animal_prob)


def table_at(ids: tuple[str, ...], cols: dict[str, np.ndarray], now: float, animal_prob: float = 0.6) -> TrackTable:
    """The table of stacked reports (``position_cache.stack_reports`` columns, row-aligned with ``ids``) at ``now``."""
    n = len(ids)
    if n == 0:
        z = np.zeros((0,))
        return TrackTable((), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 4, 4)), z, np.zeros((0, 4)),
                          z.astype(np.int64), z.astype(np.int64), z.astype(bool), z.astype(bool))
    dt = now - cols["t"]
    F = np.repeat(np.eye(4)[None], n, axis=0)
    F[:, 0, 2] = F[:, 1, 3] = dt
    x = np.einsum("nij,nj->ni", F, cols["x"])
    P = F @ cols["P"] @ np.swapaxes(F, 1, 2)
    probs = cols["class_probs"]
    return TrackTable(
        ids=ids,
        xy=x[:, :2],
        v=x[:, 2:4],
        P=P,
        existence=cols["existence"],
        class_probs=probs,
        class_idx=display_class(probs, animal_prob),
        count=cols["count"],
        confirmed=cols["confirmed"],
        alive=cols["alive"],
    )


@dataclass(frozen=True)
class BorderFeatures:
    """Border geometry and crossing prediction for every row of a TrackTable."""

    d: FloatArray  # (n,) signed distance, metres, + on the protected side
    sigma_d: FloatArray  # (n,) std of d, metres
    normal: FloatArray  # (n, 2) unit normal into the protected side
    v_n: FloatArray  # (n,) speed towards the protected side, m/s
    p_cross: FloatArray  # (n,) P(crossing into the protected side within the horizon); 0 once across
    eta_s: FloatArray  # (n,) expected time to the line, s (inf when not approaching)
    on_line: FloatArray  # (n, 2) nearest border point
    ahead: FloatArray  # (n, 2) predicted position at ``eta_s`` (the position when not approaching)
    var_d: FloatArray  # (n,) variance of d now, m^2
    cov_dv: FloatArray  # (n,) covariance of d and v_n, m^2/s
    var_v: FloatArray  # (n,) variance of v_n, m^2/s^2

    def eta_range(self, rows: NDArray[np.int64], accel_psd: float, t_max_s: float,
                  probs: tuple[float, float] = (0.25, 0.75), steps: int = 240) -> FloatArray:
        """(k, 2) times (s from now) by which P(on the protected side) first reaches each of ``probs``.

        The same Gaussian as the crossing probability (module doc): d(t) has mean
        d0 + v_n t and variance var_d + 2 t cov_dv + t^2 var_v + q t^3 / 3, so
        P(t) = Phi(mean(t) / sd(t)), evaluated on a grid up to ``t_max_s`` and
        interpolated. A young track's velocity is poorly known (a walker's is within
        about 2 m/s after 10 s of radar): its point ETA -d0 / v_n can be off by a
        factor of two, and the range says so. inf: not reached within ``t_max_s``.
        """
        t = _grid(t_max_s, steps)  # (T,)
        p = p_across(self.d[rows, None], self.v_n[rows, None], self.var_d[rows, None], self.cov_dv[rows, None],
                     self.var_v[rows, None], accel_psd, t[None, :])  # (k, T)
        q = np.asarray(probs, dtype=float)[None, :]  # (1, J): all levels in one pass
        hit = p[:, None, :] >= q[:, :, None]  # (k, J, T)
        first = np.argmax(hit, axis=2)  # (k, J)
        row = np.arange(len(rows))[:, None]
        p1 = p[row, first]
        ok = p1 >= q  # hit[row, level, first]
        k = np.maximum(first - 1, 0)  # interpolate between the grid points around the first hit
        p0 = p[row, k]
        frac = np.where(p1 > p0, (q - p0) / np.where(p1 > p0, p1 - p0, 1.0), 0.0)
        return np.where(ok, t[k] + np.clip(frac, 0.0, 1.0) * (t[first] - t[k]), np.inf)

    def crossing_xy(self, fence: Geofence, rows: NDArray[np.int64]) -> FloatArray:
        """Predicted crossing point (k, 2) of the given rows: the border point nearest ``ahead``.

        On demand, for the rows that need it (a possible port crossing, an alert's
        best member), not one line projection per live track per step. Not approaching:
        the nearest border point, already projected.
        """
        out = self.on_line[rows]
        go = np.isfinite(self.eta_s[rows])
        if go.any():
            out[go] = fence.nearest_on_line(self.ahead[rows][go])
        return out


@lru_cache(maxsize=8)
def _grid(t_max_s: float, steps: int) -> FloatArray:
    """``np.linspace(0, t_max_s, steps + 1)``, made once (read only): the same grid every call."""
    t = np.linspace(0.0, t_max_s, steps + 1)
    t.flags.writeable = False
    return t


def p_across(d: FloatArray, v_n: FloatArray, var_d: FloatArray, cov_dv: FloatArray, var_v: FloatArray,
             accel_psd: float, t: float | FloatArray) -> FloatArray:
    """P(d(t) > 0): the track on the protected side ``t`` seconds from now (module doc), broadcast."""
    var = var_d + 2.0 * t * cov_dv + t * t * var_v + accel_psd * t**3 / 3.0
    return ndtr((d + v_n * t) / np.sqrt(np.maximum(var, 1e-6)))


def border_features(fence: Geofence, t: TrackTable, horizon_s: float, accel_psd: float, min_speed: float) -> BorderFeatures:
    """``features_at`` of a table not yet measured against the border."""
    if t.size == 0:
        e = np.zeros(0)
        return BorderFeatures(e, e, np.zeros((0, 2)), e, e, e, np.zeros((0, 2)), np.zeros((0, 2)), e, e, e)
    return features_at(t, *fence.measure(t.xy), horizon_s, accel_psd, min_speed)


def features_at(t: TrackTable, d: FloatArray, on_line: FloatArray, n: FloatArray, horizon_s: float, accel_psd: float,
                min_speed: float) -> BorderFeatures:
    """``border_features`` of a table already measured against the border (``Geofence.measure`` of ``t.xy``)."""
    if t.size == 0:
        e = np.zeros(0)
        return BorderFeatures(e, e, np.zeros((0, 2)), e, e, e, np.zeros((0, 2)), np.zeros((0, 2)), e, e, e)
    v_n = np.einsum("nd,nd->n", t.v, n)
    var_d = np.einsum("ni,nij,nj->n", n, t.P[:, :2, :2], n)
    cov_dv = np.einsum("ni,nij,nj->n", n, t.P[:, :2, 2:], n)
    var_v = np.einsum("ni,nij,nj->n", n, t.P[:, 2:, 2:], n)
    H = float(horizon_s)
    p = p_across(d, v_n, var_d, cov_dv, var_v, accel_psd, H)
    approaching = (d < 0.0) & (v_n > min_speed)
    p = np.where(approaching, p, 0.0)
    eta = np.where(approaching, -d / np.where(approaching, v_n, 1.0), np.inf)
    ahead = t.xy + t.v * np.where(np.isfinite(eta), eta, 0.0)[:, None]
    return BorderFeatures(
        d=d,
        sigma_d=np.sqrt(np.maximum(var_d, 0.0)),
        normal=n,
        v_n=v_n,
        p_cross=p,
        eta_s=eta,
        on_line=on_line,
        ahead=ahead,
        var_d=var_d,
        cov_dv=cov_dv,
        var_v=var_v,
    )
