"""Class fusion: labels accumulate over time, speed is a fresh cue at each report.

The label posterior is a Bayes product over the track's detections,
label <- label * (floor + L_j) / sum, with L_j the detection's class
probabilities (drone label and confidence; uniform for radar and K-9, i.e. no
information) and a floor so that one wrong label cannot zero a class.

Speed is not accumulated (consecutive estimates are correlated); the reported
probabilities are label * L_speed(|v|) / sum, where L_speed is a soft threshold
per class whose width grows with the speed's standard deviation, so an uncertain
velocity says little: people rarely exceed ~4 m/s, vehicles are usually faster
(but may crawl), animals may run to ~12 m/s; ``unknown`` is flat.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def label_update(label: FloatArray, lik: FloatArray, floor: float) -> FloatArray:
    post = label * (floor + lik)
    return post / post.sum(axis=-1, keepdims=True)


def _sig(u: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def speed_likelihood(v: FloatArray, Pv: FloatArray) -> FloatArray:
    """(n, 4) likelihood of the speed |v| under person, vehicle, animal, unknown."""
    s = np.hypot(v[:, 0], v[:, 1])
    w = np.maximum(0.5, np.sqrt(np.maximum(Pv[:, 0, 0] + Pv[:, 1, 1], 0.0) / 2.0))
    return np.stack(
        [
            0.02 + 0.98 * _sig((4.0 - s) / w),
            0.2 + 0.8 * _sig((s - 4.0) / w),
            0.05 + 0.95 * _sig((12.0 - s) / w),
            np.full_like(s, 0.5),
        ],
        axis=1,
    )


def class_probs(label: FloatArray, v: FloatArray, Pv: FloatArray) -> FloatArray:
    p = label * speed_likelihood(v, Pv)
    return p / p.sum(axis=1, keepdims=True)
