"""Measurement models: geo-located position (drone, K-9, converted radar) and radar polar (EKF).

Both are 2-D and expose the same batched interface, so gating, association and
the update never ask which sensor they are looking at:

- position:  h(x) = [e, n],  H = [I 0],  R from the detection (sigma^2 I for drones
  and K-9, the first-order converted covariance for radar when the EKF is off).
- polar:     h(x) = [r, b] with d = p - s (tower s), r = |d|, b = atan2(d_e, d_n) - gamma,
  the bearing from true north at the tower (gamma = grid convergence at the tower:
  true bearing = site-frame bearing - gamma). Jacobian
  H = [[d_e/r, d_n/r, 0, 0], [d_n/r^2, -d_e/r^2, 0, 0]]; R = diag(sigma_r^2, sigma_b^2);
  the bearing residual is wrapped to [-pi, pi). A clutter density per m^2 becomes
  lambda * r per (metre x radian) in (r, b) space (area element r dr db), which
  ``density_scale`` carries so that likelihood ratios stay in consistent units.

Each model also gives the detections in site ENU (``cart``, ``cart_R``) for the
KD-tree pre-gate and for starting tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def lmax2(A: FloatArray) -> FloatArray:
    """Largest eigenvalue of symmetric 2x2 matrices (..., 2, 2), closed form."""
    a, b, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 1]
    return 0.5 * (a + d) + np.sqrt(0.25 * (a - d) ** 2 + b**2)


@dataclass(frozen=True)
class MeasurementModel:
    z: FloatArray  # (m, 2) in measurement space
    R: FloatArray  # (m, 2, 2)
    cart: FloatArray  # (m, 2) ENU metres
    cart_R: FloatArray  # (m, 2, 2)
    density_scale: FloatArray  # (m,) clutter density factor per m^2 -> measurement space
    sensor_en: FloatArray | None = None  # (2,) tower, polar only
    gamma: float = 0.0  # grid convergence at the tower, radians, polar only

    @property
    def polar(self) -> bool:
        return self.sensor_en is not None

    @cached_property
    def cart_R_lmax(self) -> float:
        """Largest ENU position variance of any detection, 0 without one (the pre-gate radius's
        detection term; once per scan)."""
        return float(lmax2(self.cart_R).max(initial=0.0))

    def predict(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """h(x) (..., 2) and its Jacobian H (..., 2, 4) for states x (..., 4)."""
        H = np.zeros(x.shape[:-1] + (2, 4))
        if not self.polar:
            H[..., 0, 0] = H[..., 1, 1] = 1.0
            return x[..., :2].copy(), H
        d = x[..., :2] - self.sensor_en
        r2 = np.maximum((d**2).sum(axis=-1), 1.0)
        r = np.sqrt(r2)
        hz = np.stack([r, np.arctan2(d[..., 0], d[..., 1]) - self.gamma], axis=-1)
        H[..., 0, 0] = d[..., 0] / r
        H[..., 0, 1] = d[..., 1] / r
        H[..., 1, 0] = d[..., 1] / r2
        H[..., 1, 1] = -d[..., 0] / r2
        return hz, H

    def residual(self, z: FloatArray, hz: FloatArray) -> FloatArray:
        nu = z - hz
        if self.polar:
            nu[..., 1] = (nu[..., 1] + np.pi) % (2.0 * np.pi) - np.pi
        return nu


def position_model(z: FloatArray, R: FloatArray) -> MeasurementModel:
    m = z.shape[0]
    return MeasurementModel(z=z, R=R, cart=z, cart_R=R, density_scale=np.ones(m))


def polar_model(
    polar: FloatArray, polar_sigma: FloatArray, sensor_en: FloatArray, gamma: float, z: FloatArray, R: FloatArray
) -> MeasurementModel:
    m = polar.shape[0]
    Rp = np.zeros((m, 2, 2))
    Rp[:, 0, 0] = polar_sigma[:, 0] ** 2
    Rp[:, 1, 1] = polar_sigma[:, 1] ** 2
    return MeasurementModel(
        z=polar.copy(), R=Rp, cart=z, cart_R=R, density_scale=np.maximum(polar[:, 0], 1.0),
        sensor_en=np.asarray(sensor_en, dtype=float)[:2], gamma=float(gamma),
    )
