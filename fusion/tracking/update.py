"""Kalman (EKF) update of IMM modes, batched over (track, detection) pairs x modes.

For every pair k = (i, j) and mode m, with h and H from the measurement model
(linear for positions, Jacobian at the mode's predicted state for radar polar):

    nu = z_j - h(x_im),  S = H P_im H^T + R_j,  K = P_im H^T S^-1
    x+ = x_im + K nu,    P+ = (I - K H) P_im (I - K H)^T + K R_j K^T   (Joseph form)
    log g_km = log N(nu; 0, S)

GNN: a track takes its pair's x+, P+ per mode and the IMM mode update
mu_m <- mu_m g_km / sum. JPDA: per track and mode the Gaussian mixture
beta_0 N(x_im, P_im) + sum_k beta_k N(x+_km, P+_km) is collapsed to its first two
moments (for one common S this is exactly the PDA update with its spread of
innovations term), and mu_m <- mu_m Lambda_im / sum with the mode's own
mixture likelihood Lambda_im = w_i0 + sum_k w_k g_km / g_k.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.gating import inv2
from fusion.tracking.measurement import MeasurementModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def kalman_pairs(
    xm: FloatArray, Pm: FloatArray, model: MeasurementModel, ti: IntArray, dj: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """x+ (K, M, 4), P+ (K, M, 4, 4) and log g (K, M) for pairs (ti, dj)."""
    x = xm.take(ti, axis=0)  # take copies whole rows; fancy indexing goes element by element
    P = Pm.take(ti, axis=0)
    z = model.z.take(dj, axis=0)[:, None, :]
    R = model.R.take(dj, axis=0)[:, None, :, :]
    if model.polar:
        hz, H = model.predict(x)
        nu = model.residual(np.broadcast_to(z, hz.shape).copy(), hz)
        PHt = P @ np.swapaxes(H, -1, -2)
        S = H @ PHt + R
    else:  # H = [I 0]: P H^T, H P H^T are blocks of P, the bits the products give (by 1 and 0, exact)
        nu = z - x[..., :2]
        PHt = P[..., :2].copy()
        S = P[..., :2, :2] + R
    Si, det = inv2(S)
    K = PHt @ Si
    x1 = x + np.einsum("kmij,kmj->kmi", K, nu)
    IKH = np.eye(4) - (K @ H if model.polar else np.concatenate([K, np.zeros_like(K)], axis=-1))
    P1 = IKH @ P @ IKH.swapaxes(-1, -2) + K @ R @ K.swapaxes(-1, -2)
    d2 = np.einsum("kmi,kmij,kmj->km", nu, Si, nu)
    loglik = -0.5 * d2 - np.log(2.0 * np.pi) - 0.5 * np.log(det)
    return x1, P1, loglik


def normalise_log(mu: FloatArray, logl: FloatArray) -> FloatArray:
    """mu * exp(logl) normalised per row, computed stably."""
    a = np.log(np.maximum(mu, 1e-300)) + logl
    a -= a.max(axis=1, keepdims=True)
    w = np.exp(a)
    return w / w.sum(axis=1, keepdims=True)


def collapse(
    xm: FloatArray,
    Pm: FloatArray,
    ti: IntArray,
    beta: FloatArray,
    beta0: FloatArray,
    x1: FloatArray,
    P1: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Moment-match beta0 N(xm, Pm) + sum_k beta_k N(x1_k, P1_k) per track and mode."""
    xn = beta0[:, None, None] * xm
    np.add.at(xn, ti, beta[:, None, None] * x1)
    d0 = xm - xn
    Pn = beta0[:, None, None, None] * (Pm + d0[..., :, None] * d0[..., None, :])
    dk = x1 - xn[ti]
    np.add.at(Pn, ti, beta[:, None, None, None] * (P1 + dk[..., :, None] * dk[..., None, :]))
    return xn, Pn
