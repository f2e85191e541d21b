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

Radar size cue. A radar detection's SNR falls 40 log10(range) (radar equation), so
``snr_db + 40 log10(range / 1 km)`` is an RCS proxy in dB: the SNR the object would
give at 1 km. Each class has a reference level on the site's towers (``RCS_1KM_DB``),
and a detection's proxy is scored against each class as a Gaussian in dB of width
``RCS_SIGMA_DB`` = 5.6 dB, the spread of 10 log10 of an exponentially fluctuating
(Swerling I/II) echo. People cross in groups that one resolution cell merges into
one plot, 10 log10(n) dB up; the count is unknown, so the person likelihood is
profiled over it: flat from one person's level to ``GROUP_DB`` (8 people) above it,
Gaussian beyond either end, so a group of six is not taken for a vehicle. Animal
groups are not profiled: an echo bigger than one animal counts against ``animal``,
which errs towards alerting (two deer in one cell are the size of a person). What
the size says is then "smaller than one person" (an animal, by a little: a deer 2 dB
below a person gives a mean log-likelihood ratio of 0.06 per detection, so it tells
over many scans, not one) and "bigger than any group of people" (a vehicle, 12 dB
above one person). ``unknown`` gets the mean of the other three: the size of an
echo says nothing about whether it is classifiable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: No class information: what a detection without a label (or no detection) says.
_UNIFORM = np.full(4, 0.25)

#: Range-normalised SNR (dB at 1 km) of one person, vehicle and animal on the site's towers (their calibration).
RCS_1KM_DB = np.array([24.0, 36.0, 22.0])
#: Scan-to-scan spread of one echo in dB: std of 10 log10 of an exponential variable (Swerling I/II).
RCS_SIGMA_DB = 5.6
#: How far above one body's level a group in one plot can reach: up to 8 people; vehicles and animals unprofiled.
GROUP_DB = np.array([10.0 * np.log10(8.0), 0.0, 0.0])


def label_update(label: FloatArray, lik: FloatArray, floor: float) -> FloatArray:
    post = label * (floor + lik)
    return post / post.sum(axis=-1, keepdims=True)


def label_likelihoods(n: int, ti: IntArray, dj: IntArray, w: FloatArray, det: FloatArray) -> FloatArray:
    """(n, 4) label likelihood of each of n tracks from weighted (track, detection) pairs:
    sum_j w_ij L_j + (1 - sum_j w_ij) uniform (what is not a detection says nothing).

    With one pair of weight 1 per track (GNN) a row is exactly its detection's L_j
    (uniform x 0 + 1 x L_j), so the tracker takes ``det[dj]`` there.
    """
    lik = np.repeat(_UNIFORM[None], n, axis=0) * (1.0 - np.bincount(ti, weights=w, minlength=n))[:, None]
    np.add.at(lik, ti, w[:, None] * det[dj])
    return lik


def with_rcs(probs: FloatArray, snr_db: FloatArray, range_m: FloatArray) -> FloatArray:
    """Detection class likelihoods (m, 4) times the radar size cue, rows normalised; rows
    without an SNR (or a range) are returned as they are."""
    rcs = np.asarray(snr_db, dtype=float) + 40.0 * np.log10(np.maximum(np.asarray(range_m, dtype=float), 1.0) / 1000.0)
    above = np.nan_to_num(rcs)[:, None] - RCS_1KM_DB[None, :]
    dev = np.minimum(above, 0.0) + np.maximum(above - GROUP_DB[None, :], 0.0)  # people: 0 anywhere from 1 to 8
    log_lik = -0.5 * (dev / RCS_SIGMA_DB) ** 2
    size = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))  # scaled: far-off echoes do not underflow
    size = np.column_stack([size, size.mean(axis=1)])
    out = probs * size
    out = out / np.maximum(out.sum(axis=1, keepdims=True), 1e-300)
    return np.where(np.isfinite(rcs)[:, None], out, probs)


#: The speed cue of person, vehicle, animal: a soft threshold at ``_SPEED_AT`` (m/s) on the side
#: ``_SPEED_SIDE`` (+1: slower than it, -1: faster), rising from ``_SPEED_FLOOR`` by ``_SPEED_RISE``;
#: ``unknown`` is flat at 0.5.
_SPEED_AT = np.array([4.0, 4.0, 12.0])
_SPEED_SIDE = np.array([1.0, -1.0, 1.0])
_SPEED_FLOOR = np.array([0.02, 0.2, 0.05])
_SPEED_RISE = np.array([0.98, 0.8, 0.95])


def _sig(u: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def speed_likelihood(v: FloatArray, Pv: FloatArray) -> FloatArray:
    """(n, 4) likelihood of the speed |v| under person, vehicle, animal, unknown.

    The three soft thresholds as one (n, 3) array: ((a - s) / w) * side is (s - a) / w
    exactly for side -1 (IEEE negation is exact), so each entry has the bits of its own
    scalar expression, at a third of the array calls (a report of every touched track).
    """
    s = np.hypot(v[:, 0], v[:, 1])
    w = np.maximum(0.5, np.sqrt(np.maximum(Pv[:, 0, 0] + Pv[:, 1, 1], 0.0) / 2.0))
    out = np.full((s.size, 4), 0.5)
    out[:, :3] = _SPEED_FLOOR + _SPEED_RISE * _sig((_SPEED_AT - s[:, None]) / w[:, None] * _SPEED_SIDE)
    return out


def class_probs(label: FloatArray, v: FloatArray, Pv: FloatArray) -> FloatArray:
    p = label * speed_likelihood(v, Pv)
    return p / p.sum(axis=1, keepdims=True)
