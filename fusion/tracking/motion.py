"""Motion models: nearly-constant velocity (white-noise acceleration) inside an IMM.

State x = [e, n, ve, vn] (metres, m/s). Over dt every mode shares

    F = [[I, dt I], [0, I]],   Q_m = q_m [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]]

and differs only in q_m (Bar-Shalom, Li & Kirubarajan 2001, sec. 6.2.2): a walker
mode, a vehicle mode and a manoeuvre mode with large q. The IMM (Blom & Bar-Shalom
1988) keeps one Gaussian per mode and its probability mu_m. Mode switches follow a
continuous-time Markov chain with mean sojourn tau_m, so the transition matrix over
any dt is Pi(dt) = expm(G dt) (by eigendecomposition, cached per dt) with G_mm = -1/tau_m and the leaving rate spread evenly
over the other modes. Prediction of the whole track table is one batched step:

    mixing:   c_j = sum_i Pi_ij mu_i,   mu_{i|j} = Pi_ij mu_i / c_j
              x0_j = sum_i mu_{i|j} x_i,  P0_j = sum_i mu_{i|j} (P_i + (x_i - x0_j)(x_i - x0_j)^T)
    predict:  x_j = F x0_j,  P_j = F P0_j F^T + Q_j,  mu_j = c_j
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


@lru_cache(maxsize=256)
def _transition_cached(dt: float, sojourn_s: tuple[float, ...]) -> FloatArray:
    tau = np.asarray(sojourn_s, dtype=float)
    M = tau.size
    # G = diag(d) B with d = 1/tau and B symmetric, so S = d^1/2 B d^1/2 is symmetric
    # and expm(G dt) = d^1/2 U exp(L dt) U^T d^-1/2 from S = U L U^T (no Pade needed).
    d = 1.0 / tau
    B = np.full((M, M), 1.0 / (M - 1))
    np.fill_diagonal(B, -1.0)
    sq = np.sqrt(d)
    lam, U = np.linalg.eigh(sq[:, None] * B * sq[None, :])
    Pi = (sq[:, None] * U) @ np.diag(np.exp(lam * dt)) @ (U.T / sq[None, :])
    Pi = np.clip(Pi, 0.0, 1.0)
    Pi /= Pi.sum(axis=1, keepdims=True)
    Pi.setflags(write=False)
    return Pi


def transition_matrix(dt: float, sojourn_s: FloatArray) -> FloatArray:
    """Pi(dt) (M, M): probability of mode i at t switching to mode j at t + dt."""
    tau = tuple(float(v) for v in np.atleast_1d(sojourn_s))
    if len(tau) == 1 or dt <= 0.0:
        return np.eye(len(tau))
    return _transition_cached(float(dt), tau)


def _weighted_outer(w: FloatArray, d: FloatArray) -> FloatArray:
    """sum_i w[n, i, j] d[n, i, j] d[n, i, j]^T -> (n, j, 4, 4), as one batched matmul."""
    dt = np.moveaxis(d, 1, 2)  # (n, j, i, 4)
    wt = np.moveaxis(w, 1, 2)[..., None]  # (n, j, i, 1)
    return np.swapaxes(wt * dt, -1, -2) @ dt


def combine(xm: FloatArray, Pm: FloatArray, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Moment-matched single Gaussian (n, 4), (n, 4, 4) of the mode mixture."""
    n, M = mu.shape
    x = (mu[:, None, :] @ xm)[:, 0, :]
    d = xm - x[:, None, :]
    P = (mu[:, None, :] @ Pm.reshape(n, M, 16)).reshape(n, 4, 4)
    P += _weighted_outer(mu[:, :, None], d[:, :, None, :])[:, 0]
    return x, P


def imm_predict(
    xm: FloatArray, Pm: FloatArray, mu: FloatArray, dt: float, q: FloatArray, sojourn_s: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mix and predict every track's modes over dt seconds (module docstring)."""
    if dt <= 0.0 or xm.shape[0] == 0:
        return xm, Pm, mu
    n, M = mu.shape
    Pi = transition_matrix(dt, sojourn_s)
    c = np.maximum(mu @ Pi, 1e-300)  # (n, M)
    w = mu[:, :, None] * Pi[None, :, :] / c[:, None, :]  # (n, i, j) = mu_{i|j}
    wT = np.swapaxes(w, 1, 2)  # (n, j, i)
    x0 = wT @ xm  # (n, j, 4)
    d = xm[:, :, None, :] - x0[:, None, :, :]  # (n, i, j, 4)
    P0 = (wT @ Pm.reshape(n, M, 16)).reshape(n, M, 4, 4) + _weighted_outer(w, d)
    F, Q = cv_matrices(dt, q)
    x1 = x0 @ F.T
    P1 = F @ P0 @ F.T + Q[None]
    return x1, P1, c / c.sum(axis=1, keepdims=True)


def predict_combined(x: FloatArray, P: FloatArray, dt: float, q: float) -> tuple[FloatArray, FloatArray]:
    """CV prediction of single Gaussians (n, 4) over dt with one q (for reports between scans)."""
    if dt <= 0.0:
        return x, P
    F, Q = cv_matrices(dt, np.array([q]))
    return x @ F.T, F @ P @ F.T + Q[0]
