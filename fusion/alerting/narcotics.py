"""Link a K-9 narcotics indication to the nearest plausible track.

The sign was fresh at ``det_time`` (often minutes before the report), so each track
is propagated back (or forward) to that time at constant velocity, x(t) = x + v dt,
P(t) = F P F^T, and compared with the indication by Mahalanobis distance
d^2 = r^T (P_pos(t) + R)^-1 r. The nearest track inside the chi-square gate and
within ``max_link_m`` is the link; none is fine (the alert stands alone).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusion.types import Scan, TrackReport


def link_indications(scan: Scan, idx: NDArray[np.int64], tracks: list[TrackReport], gate_chi2: float,
                     max_link_m: float) -> list[TrackReport | None]:
    """For each detection row in ``idx``, the linked track or None (all pairs evaluated as arrays)."""
    if not tracks or idx.size == 0:
        return [None] * int(idx.size)
    x = np.stack([np.asarray(t.x, dtype=float)[:4] for t in tracks])  # (n, 4)
    P = np.stack([np.asarray(t.P, dtype=float)[:4, :4] for t in tracks])  # (n, 4, 4)
    t_track = np.array([t.time for t in tracks])
    dt = scan.det_time[idx][:, None] - t_track[None, :]  # (m, n)
    pos = x[None, :, :2] + x[None, :, 2:] * dt[..., None]  # (m, n, 2)
    Ppp, Ppv, Pvv = P[:, :2, :2], P[:, :2, 2:], P[:, 2:, 2:]
    cov = (Ppp[None] + dt[..., None, None] * (Ppv + np.swapaxes(Ppv, 1, 2))[None]
           + (dt**2)[..., None, None] * Pvv[None] + scan.R[idx][:, None])  # (m, n, 2, 2)
    r = scan.z[idx][:, None, :] - pos  # (m, n, 2)
    d2 = np.einsum("mni,mni->mn", r, np.linalg.solve(cov, r[..., None])[..., 0])
    ok = (d2 <= gate_chi2) & (np.linalg.norm(r, axis=-1) <= max_link_m)
    d2 = np.where(ok, d2, np.inf)
    best = np.argmin(d2, axis=1)
    return [tracks[int(b)] if np.isfinite(d2[i, b]) else None for i, b in enumerate(best)]
