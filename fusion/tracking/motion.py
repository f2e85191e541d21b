"""Motion models: nearly-constant velocity (white-noise acceleration) inside an IMM.

State x = [e, n, ve, vn] (metres, m/s). Over dt every mode shares

    F = [[I, dt I], [0, I]],   Q_m = q_m [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]]

and differs only in q_m (Bar-Shalom, Li & Kirubarajan 2001, sec. 6.2.2): a walker
mode, a vehicle mode and a manoeuvre mode with large q. The IMM (Blom & Bar-Shalom
1988) keeps one Gaussian per mode and its probability mu_m. Mode switches follow a
continuous-time Markov chain with mean sojourn tau_m, so the transition matrix over
any dt is Pi(dt) = expm(G dt) (by one cached eigendecomposition of G) with
G_mm = -1/tau_m and the leaving rate spread evenly over the other modes. Every track
has its own dt (each track is predicted only when a scan can touch it, from its own
time), so prediction is one batched step over rows with per-row F, Q and Pi:

    mixing:   c_j = sum_i Pi_ij mu_i,   mu_{i|j} = Pi_ij mu_i / c_j
              x0_j = sum_i mu_{i|j} x_i,  P0_j = sum_i mu_{i|j} (P_i + (x_i - x0_j)(x_i - x0_j)^T)
    predict:  x_j = F x0_j,  P_j = F P0_j F^T + Q_j,  mu_j = c_j

Mixing preserves the mixture's first two moments and F is common to the modes, so
the moment-matched prediction is exactly x = F xbar, P = F Pbar F^T + sum_j c_j Q_j
(``predict_combined``): what reports and routing need, without the mixing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def cv_matrices(dt: float, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """F (4, 4) and Q (M, 4, 4) of the CV model over dt seconds for spectral densities q (M,)."""
    F = np.eye(4)
    F[0, 2] = F[1, 3] = dt
    base = np.zeros((4, 4))
    base[0, 0] = base[1, 1] = dt**3 / 3.0
    base[0, 2] = base[2, 0] = base[1, 3] = base[3, 1] = dt**2 / 2.0
    base[2, 2] = base[3, 3] = dt
    return F, np.asarray(q, dtype=float)[:, None, None] * base


def _cv_predict(x: FloatArray, P: FloatArray, dt: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """F x and F P F^T + Q for states (n, ..., 4), covariances (n, ..., 4, 4) (C-contiguous:
    written in place), with one dt per row (n,) and q broadcast to x[..., 0].

    F = [[I, dt I], [0, I]] is applied by blocks: rows 0-1 of P gain dt x rows 2-3, then
    columns 0-1 gain dt x columns 2-3; Q's six distinct entries are added. P is worked on
    as its 16 entries by rows, each a vector over the tracks and modes: the same operations
    per entry, without numpy's inner loops of two or four elements.
    """
    s = dt.reshape(dt.shape + (1,) * (x.ndim - 2))  # (n, ...) like x[..., 0]
    x[..., :2] += s[..., None] * x[..., 2:]
    lead = P.shape[:-2]
    Pf = P.reshape(lead + (16,))
    k = len(lead)
    E = Pf.transpose((k,) + tuple(range(k))).copy()  # (16, n, ...): entry (i, j) at 4 i + j
    E[:8] += s * E[8:]  # rows 0-1 += dt rows 2-3
    cols = E.reshape((4, 2, 2) + lead)
    cols[:, 0] += s * cols[:, 1]  # columns 0-1 += dt columns 2-3
    q3, q2, q1 = q * s**3 / 3.0, q * s**2 / 2.0, q * s
    for i in (0, 1):
        E[5 * i] += q3  # (i, i)
        E[5 * i + 2] += q2  # (i, i + 2)
        E[5 * i + 8] += q2  # (i + 2, i)
        E[5 * i + 10] += q1  # (i + 2, i + 2)
    Pf[...] = E.transpose(tuple(range(1, k + 1)) + (0,))
    return x, P


@lru_cache(maxsize=16)
def _generator_basis(sojourn_s: tuple[float, ...]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(A, lam, B) with expm(G dt) = A diag(exp(lam dt)) B.

    G = diag(d) C with d = 1/tau and C symmetric, so S = d^1/2 C d^1/2 is symmetric and
    expm(G dt) = d^1/2 U exp(L dt) U^T d^-1/2 from S = U L U^T (no Pade needed).
    """
    tau = np.asarray(sojourn_s, dtype=float)
    M = tau.size
    C = np.full((M, M), 1.0 / (M - 1))
    np.fill_diagonal(C, -1.0)
    sq = np.sqrt(1.0 / tau)
    lam, U = np.linalg.eigh(sq[:, None] * C * sq[None, :])
    return sq[:, None] * U, lam, U.T / sq[None, :]


def transition_matrices(dt: FloatArray, sojourn_s: FloatArray) -> FloatArray:
    """Pi(dt_n) (n, M, M): probability of mode i at t switching to mode j at t + dt_n."""
    tau = sojourn_s if type(sojourn_s) is tuple else tuple(np.atleast_1d(np.asarray(sojourn_s, dtype=float)).tolist())
    dt = np.maximum(np.asarray(dt, dtype=float), 0.0)
    if len(tau) == 1:
        return np.ones((dt.shape[0], 1, 1))
    A, lam, B = _generator_basis(tau)
    n, M = dt.shape[0], len(tau)
    # one product of all rows' (M, M) blocks stacked with the common B, not one per row
    Pi = ((A[None] * np.exp(lam[None, :] * dt[:, None])[:, None, :]).reshape(n * M, M) @ B).reshape(n, M, M)
    Pi = np.minimum(np.maximum(Pi, 0.0), 1.0)  # clip, without np.clip's per-call overhead
    return Pi / Pi.sum(axis=2, keepdims=True)


def _weighted_outer(w: FloatArray, d: FloatArray) -> FloatArray:
    """sum_i w[n, i, j] d[n, i, j] d[n, i, j]^T -> (n, j, 4, 4), as one batched matmul."""
    dt = d.swapaxes(1, 2)  # (n, j, i, 4)
    wt = w.swapaxes(1, 2)[..., None]  # (n, j, i, 1)
    return (wt * dt).swapaxes(-1, -2) @ dt


def combined_mean(xm: FloatArray, mu: FloatArray) -> FloatArray:
    """Mean (n, 4) of the mode mixture."""
    return np.einsum("nm,nmi->ni", mu, xm)


def combine(xm: FloatArray, Pm: FloatArray, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Moment-matched single Gaussian (n, 4), (n, 4, 4) of the mode mixture."""
    n, M = mu.shape
    x = (mu[:, None, :] @ xm)[:, 0, :]
    d = xm - x[:, None, :]
    P = (mu[:, None, :] @ Pm.reshape(n, M, 16)).reshape(n, 4, 4)
    P += _weighted_outer(mu[:, :, None], d[:, :, None, :])[:, 0]
    return x, P


def position_moments(xm: FloatArray, Pm: FloatArray, mu: FloatArray, xbar: FloatArray) -> FloatArray:
    """(n, 3) traces of the position, position-velocity and velocity blocks of each track's
    mixture covariance Pbar = sum_m mu_m (P_m + d_m d_m^T) (d_m = x_m - xbar; ``xbar`` from
    ``combined_mean``, which the table keeps as well).

    Constant between a track's updates (a track keeps its state until touched), so the
    table keeps them with each row and ``position_variance_bound`` needs only these three
    numbers per track at any later time. Only diagonals are needed: a few vector operations
    per track, not a 4x4 product.
    """
    d = xm - xbar[:, None, :]
    e = np.einsum("nmii->nmi", Pm) + d * d
    cross = Pm[:, :, 0, 2] + Pm[:, :, 1, 3] + d[:, :, 0] * d[:, :, 2] + d[:, :, 1] * d[:, :, 3]
    out = np.empty((xm.shape[0], 3))
    out[:, 0] = np.einsum("nm,nm->n", mu, e[:, :, 0] + e[:, :, 1])
    out[:, 1] = np.einsum("nm,nm->n", mu, cross)
    out[:, 2] = np.einsum("nm,nm->n", mu, e[:, :, 2] + e[:, :, 3])
    return out


def position_variance_bound(moments: FloatArray, dt: FloatArray, q_max: float) -> FloatArray:
    """Upper bound (n,) on the largest eigenvalue of the predicted position covariance after dt (n,) s.

    The moment-matched prediction has position block Pbar_pp + dt (Pbar_pv + Pbar_vp)
    + dt^2 Pbar_vv + qbar dt^3/3 I with qbar <= q_max, and lmax <= trace; ``moments``
    are the traces of the blocks of Pbar (``position_moments``). dt^3 by products, not
    ``**`` (a pow per element costs more than the rest of the bound over a sector).
    """
    t_pp, t_pv, t_vv = moments.T
    dt2 = dt * dt
    return t_pp + 2.0 * dt * t_pv + dt2 * t_vv + (2.0 * q_max / 3.0) * (dt2 * dt)


def imm_predict(
    xm: FloatArray, Pm: FloatArray, mu: FloatArray, dt: FloatArray, q: FloatArray, sojourn_s: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mix and predict each track's modes over its own dt (n,) > 0 seconds (module docstring)."""
    if xm.shape[0] == 0:
        return xm, Pm, mu
    n, M = mu.shape
    Pi = transition_matrices(dt, sojourn_s)  # (n, i, j)
    c = np.maximum(np.einsum("ni,nij->nj", mu, Pi), 1e-300)  # (n, M)
    w = mu[:, :, None] * Pi / c[:, None, :]  # (n, i, j) = mu_{i|j}
    wT = w.swapaxes(1, 2)  # (n, j, i)
    x0 = wT @ xm  # (n, j, 4)
    d = xm[:, :, None, :] - x0[:, None, :, :]  # (n, i, j, 4)
    P0 = (wT @ Pm.reshape(n, M, 16)).reshape(n, M, 4, 4) + _weighted_outer(w, d)
    x1, P1 = _cv_predict(x0, P0, dt, np.asarray(q, dtype=float)[None, :])
    return x1, P1, c / c.sum(axis=1, keepdims=True)


def predict_combined(
    x: FloatArray, P: FloatArray, mu: FloatArray, dt: FloatArray, q: FloatArray, sojourn_s: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Moment-matched IMM prediction (x, P, mu) of combined Gaussians over dt (n,) >= 0.

    Exactly ``combine(*imm_predict(...))`` (module docstring): F xbar,
    F Pbar F^T + sum_j c_j Q_j, and c = mu Pi(dt).
    """
    c = np.einsum("ni,nij->nj", mu, transition_matrices(dt, sojourn_s))
    c /= c.sum(axis=1, keepdims=True)
    return (*_cv_predict(x.copy(), P.copy(), dt, c @ np.asarray(q, dtype=float)), c)
