"""SectorTracker: the facade the pipeline calls, composing the stages on the track table.

One step (one sensor scan, or the detections of a K-9 report sharing one
observation time):

    reach (bounding box + KD-tree pairs on an upper bound of each pre-gate radius)
    -> predict those tracks (IMM, motion.py) -> gate (KD-tree + chi-squared, gating.py)
    -> associate (GNN per cluster or JPDA, association.py)
    -> update (batched EKF per pair x mode, update.py) -> existence, class, sensors
    -> radar misses -> merge duplicates near the detected tracks
    -> start tracks from unused detections -> delete stale tracks (management.py)

Lazy prediction: each track keeps its own time (``TrackTable.t``). A step predicts
to its time, and writes back, only the tracks it touches: those with a detection
inside their chi-squared gate, those in a radar's coverage (a miss is information),
and the survivor of a duplicate merge (the duplicate test itself compares tracks
predicted to the step's time in temporaries). Everything else stays as it was, so a step costs what the detections'
neighbourhood holds plus a few vector operations per track. Reports, routing
positions, existence and deletion evaluate a track at any later time from its own
(``predict_combined``, ``management.existence_at``). Each track is therefore
predicted over the interval between the scans that touch it, with one IMM mixing
per interval and Pi(dt) of the whole interval (docs/tracker.md: why this, and not
mixing at every scan of any sensor of the sector, is the discrete-time IMM).

Out-of-sequence measurements (a K-9 ``observed_time`` minutes ago, or a scan that
arrives after a later one) are fused by a bounded-lag re-run: the tracker keeps
every step of the last ``oosm_window_s`` seconds and checkpoints of the table
(every ``recent_checkpoint_interval_s`` over the last ``recent_checkpoints_s``,
every ``checkpoint_interval_s`` before that); a late step is inserted in time order
and the steps after the checkpoint before it are run again. The result equals the
in-order run exactly. Track IDs survive the re-run because a track started from
the same detection (sensor, seq, time, index) gets the ID it had; the ID counter
only rises, so IDs are never reused.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from fusion.site import Site
from fusion.tracking import association, classify, management
from fusion.tracking.config import TrackerConfig
from fusion.tracking.gating import Gated, candidate_pairs, chi2_gate, gate_threshold, pregate_radius, rows_near
from fusion.tracking.history import pack_scans, split_by_det_time, unpack_scans
from fusion.tracking.measurement import MeasurementModel, polar_model, position_model
from fusion.tracking.motion import combine, imm_predict, position_variance_bound, predict_combined
from fusion.tracking.table import CODE_STATUS, SCAN_COLUMNS, STATUS_CODES, TrackTable
from fusion.tracking.update import collapse, kalman_pairs, normalise_log
from fusion.types import Scan, SensorType, TrackReport, TrackStatus, track_reports

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_DELETED = STATUS_CODES[TrackStatus.DELETED]
#: Up to this many tracks a step gates every track instead of running the reach test:
#: cheaper there, and the same result.
_ALL_CANDIDATES = 64


def _is_in(values: IntArray, ids: IntArray) -> NDArray[np.bool_]:
    """``np.isin(values, ids)`` for a few dozen ``ids`` (non-empty) by binary search: a lookup
    table spans the whole range of track IDs, sorting the concatenation costs more."""
    ids = np.sort(ids)
    return ids[np.minimum(ids.searchsorted(values), ids.size - 1)] == values


def _extrapolated(x: FloatArray, dt: FloatArray) -> FloatArray:
    """Mean positions (k, 2) ``p + v dt`` from mean states given by component (4, k) (a
    transposed view will do): one vector operation per component, several times faster
    than the same sums on (k, 2) columns (numpy's inner loops would run two elements long)."""
    out = np.empty((dt.shape[0], 2))
    np.add(x[0], x[2] * dt, out=out[:, 0])
    np.add(x[1], x[3] * dt, out=out[:, 1])
    return out


@dataclass
class _Event:
    """One step of the history: a (sub-)scan, or the deletion of tracks by ``advance``."""

    time: float
    serial: int
    scan: Scan | None = None
    delete_ids: tuple[int, ...] = ()


@dataclass
class _Checkpoint:
    index: int  # the table as it was before events[index]
    time: float
    table: TrackTable
    t: float | None
    clutter: dict[str, float]


class SectorTracker:
    """Multi-sensor IMM tracker for one sector (see the module docstring and docs/tracker.md)."""

    def __init__(self, sector: str, site: Site, config: TrackerConfig = TrackerConfig()) -> None:
        self.sector = sector
        #: ``track_id``'s format (a bound ``str.format`` maps over a report's serials at C speed)
        self._id_format = "T-" + sector.replace("{", "{{").replace("}", "}}") + "-{:06d}"
        self.site = site
        self.config = config
        self._q = np.asarray(config.mode_q, dtype=float)
        self._q_max = float(self._q.max())
        tau = np.asarray(config.mode_sojourn_s, dtype=float)
        self._tau_key = tuple(tau.tolist())  # what transition_matrices caches its basis by
        self._mu0 = np.asarray(config.mode_init, dtype=float) / np.sum(config.mode_init)
        sv0 = np.asarray(config.init_speed_sigma_mps, dtype=float)
        self._sv0_sq = sv0**2  # a birth's velocity variance per mode
        self._modes = self._q.size
        if not (tau.size == self._mu0.size == sv0.size == self._modes):
            raise ValueError("mode_q, mode_sojourn_s, mode_init and init_speed_sigma_mps need one entry per mode")
        if config.association not in ("gnn", "jpda"):
            raise ValueError("association must be 'gnn' or 'jpda'")
        self._gamma = gate_threshold(config.gate_prob)
        self._merge_threshold = float(chi2.ppf(config.merge_prob, 4))
        self._sensor_ids = [s.id for s in site.sensors]
        #: ``tab.sensors`` words (64 sensors each), and each sensor's (word, bit) in them
        self._sensor_words = max(1, -(-len(self._sensor_ids) // 64))
        self._sensor_bit = {sid: (i // 64, np.uint64(1) << np.uint64(i % 64)) for i, sid in enumerate(self._sensor_ids)}
        k9 = np.zeros(self._sensor_words, np.uint64)
        for s in site.sensors:
            if s.type == SensorType.K9:
                w, b = self._sensor_bit[s.id]
                k9[w] |= b
        self._k9_mask = k9 if k9.any() else None
        self._grid_rot: dict[tuple[float, float], float] = {}
        self._sensor_tuples: dict[int | bytes, tuple[str, ...]] = {}
        self._next_prune = -math.inf
        self._pruned = False  # history still reaches back to the tracker's initial state
        self.tab = TrackTable.empty(self._modes, self._sensor_words)
        #: what a step that ends no track returns (shared: an ended table is only read)
        self._none_ended = TrackTable.empty(self._modes, self._sensor_words)
        #: ``positions``' ids, mean states (4, k) (one row per component) and times of the
        #: confirmed rows (None: stale)
        self._routing: tuple[IntArray, FloatArray, FloatArray] | None = None
        self.t: float | None = None
        self._next_id = 1
        self._clutter: dict[str, float] = {}
        self._events: list[_Event] = []
        self._serial = 0
        self._checkpoints: list[_Checkpoint] = []
        self._birth_ids: dict[str, tuple[int, float]] = {}
        self._ended: dict[int, float] = {}
        self.counters: dict[str, int] = {"steps": 0, "oosm_rerun": 0, "oosm_dropped": 0, "merged": 0, "window_shrunk": 0}

    # ------------------------------------------------------------------ public
    def step(self, scan: Scan, changed_only: bool = False) -> list[TrackReport]:
        """Fuse one scan; reports for every live track plus one DELETED per track that ended.

        ``changed_only``: report only the tracks this scan updated or started and those
        whose status changed (plus the DELETED ones): what a consumer that keeps the
        last report of every track needs. Building a report per live track costs more
        than the filter itself once a sector holds hundreds of tracks.
        """
        ended = self._none_ended
        self._routing = None
        for sub in split_by_det_time(scan):
            if self.t is None or sub.time >= self.t:
                ended = ended.concat(self._record_and_apply(self._new_event(sub)))
            else:
                ended = ended.concat(self._out_of_sequence(self._new_event(sub)))
        self._prune()
        self.counters["steps"] += 1
        now = self.t if self.t is not None else scan.time
        codes = management.status_codes(self.tab, now, self.config)
        if changed_only:
            rows = ((self.tab.last_update == now) | (codes != self.tab.reported)).nonzero()[0]
            reports = self._reports(self.tab.select(rows), codes[rows], now)
        else:
            reports = self._reports(self.tab, codes, now)
        self.tab.reported[:] = codes
        reports += self._reports(ended, np.full(ended.n, _DELETED, np.int8), now)
        return reports

    def advance(self, now: float) -> list[TrackReport]:
        """Time passes with no data: report status changes (coasting, DELETED) as of ``now``."""
        if self.t is None or self.tab.n == 0:
            return []
        cfg = self.config
        now = max(now, self.t)
        self._routing = None
        gone = management.stale(self.tab, now, cfg, self._k9_mask)
        codes = management.status_codes(self.tab, now, cfg)
        changed = (codes != self.tab.reported) & ~gone
        out = self._reports(self.tab.select(np.flatnonzero(changed)), codes[changed], now)
        self.tab.reported[changed] = codes[changed]
        if gone.any():
            dead = self.tab.select(np.flatnonzero(gone))
            ev = _Event(self.t, self._next_serial(), None, tuple(int(i) for i in dead.ids))
            self._record_and_apply(ev)
            out += self._reports(dead, np.full(dead.n, _DELETED, np.int8), now)
        return out

    def reports(self) -> list[TrackReport]:
        """Current live tracks (status as last reported, at the tracker's time)."""
        if self.t is None:
            return []
        codes = management.status_codes(self.tab, self.t, self.config)
        return self._reports(self.tab, codes, self.t)

    def positions(self, time: float) -> tuple[NDArray[np.int64], FloatArray]:
        """Serials and east/north positions (m) at ``time`` of the confirmed and coasting tracks.

        Each track's combined mean extrapolated from its own time (exactly the mean of
        the IMM prediction): what sector routing needs, as arrays, without building a
        report per track. The rows' means and times are kept until the next ``step`` or
        ``advance`` (routing asks every sector for each scan, and most scans step one).
        """
        if self.t is None or self.tab.n == 0:
            return np.zeros(0, np.int64), np.zeros((0, 2))
        if self._routing is None:
            rows = self.tab.confirmed.nonzero()[0]
            self._routing = (self.tab.ids[rows], self.tab.xc.take(rows, axis=0).T.copy(), self.tab.t[rows])
        ids, x, t = self._routing
        return ids.copy(), _extrapolated(x, time - t)

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict:
        """Complete state, JSON-serialisable: table, clock, ID counter, OOSM history."""
        return {
            "version": 4,
            "sector": self.sector,
            "t": self.t,
            "next_id": self._next_id,
            "serial": self._serial,
            "table": self.tab.to_dict(),
            "clutter": dict(self._clutter),
            "events": {
                "time": [e.time for e in self._events],
                "serial": [e.serial for e in self._events],
                "delete_ids": [list(e.delete_ids) for e in self._events],
                "has_scan": [e.scan is not None for e in self._events],
                "scans": pack_scans([e.scan for e in self._events if e.scan is not None]),
            },
            # only the coarse checkpoints: a re-run from an earlier one gives the same state, and the
            # recent ones would triple the snapshot (a table each) for a rare late scan after a restart
            "checkpoints": [
                {"index": c.index, "time": c.time, "table": c.table.to_dict(), "t": c.t, "clutter": dict(c.clutter)}
                for c in self._thinned(math.inf)
            ],
            "birth_ids": {k: [v[0], v[1]] for k, v in self._birth_ids.items()},
            "ended": [[k, v] for k, v in self._ended.items()],
            "pruned": self._pruned,
            "counters": dict(self.counters),
        }

    @classmethod
    def restore(cls, sector: str, site: Site, config: TrackerConfig, snap: dict) -> "SectorTracker":
        if snap.get("version") != 4:
            raise ValueError(f"tracker snapshot version {snap.get('version')!r}, this tracker reads version 4")
        t = cls(sector, site, config)
        M = t._modes
        t.t = snap["t"]
        t._next_id = int(snap["next_id"])
        t._serial = int(snap["serial"])
        t.tab = TrackTable.from_dict(snap["table"], M, t._sensor_words)
        t._clutter = {k: float(v) for k, v in snap["clutter"].items()}
        ev = snap["events"]
        scans = iter(unpack_scans(ev["scans"]))
        t._events = [
            _Event(float(time), int(serial), next(scans) if has else None, tuple(int(i) for i in dels))
            for time, serial, dels, has in zip(ev["time"], ev["serial"], ev["delete_ids"], ev["has_scan"])
        ]
        t._checkpoints = [
            _Checkpoint(int(c["index"]), float(c["time"]), TrackTable.from_dict(c["table"], M, t._sensor_words), c["t"],
                        {k: float(v) for k, v in c["clutter"].items()})
            for c in snap["checkpoints"]
        ]
        t._birth_ids = {k: (int(v[0]), float(v[1])) for k, v in snap["birth_ids"].items()}
        t._ended = {int(k): float(v) for k, v in snap["ended"]}
        t._pruned = bool(snap.get("pruned", True))
        t.counters.update({k: int(v) for k, v in snap["counters"].items()})
        return t

    # ------------------------------------------------------------------ history / OOSM
    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _new_event(self, sub: Scan) -> _Event:
        return _Event(float(sub.time), self._next_serial(), sub)

    def _history_on(self) -> bool:
        return self.config.oosm_window_s > 0.0

    def _record_and_apply(self, ev: _Event) -> TrackTable:
        if self._history_on():
            if not self._checkpoints or ev.time - self._checkpoints[-1].time >= self.config.recent_checkpoint_interval_s:
                self._checkpoints.append(
                    _Checkpoint(len(self._events), ev.time, self.tab.copy(), self.t, dict(self._clutter)))
            self._events.append(ev)
        return self._apply(ev)

    def _apply(self, ev: _Event) -> TrackTable:
        if ev.scan is not None:
            return self._process(ev.scan)
        rows = np.isin(self.tab.ids, np.asarray(ev.delete_ids, np.int64))
        return self._remove(rows)

    def _out_of_sequence(self, ev: _Event) -> TrackTable:
        """Insert a late step in time order and re-run from the checkpoint before it."""
        pos = bisect.bisect_right([e.time for e in self._events], ev.time)
        # a checkpoint at or before the late step; the very first one also serves for a step
        # older than all history, as long as nothing was pruned (it is the initial state)
        cps = [c for c in self._checkpoints if c.index <= pos and (c.time <= ev.time or (c.index == 0 and not self._pruned))]
        if self.t is not None and ev.time < self.t - self.config.oosm_window_s:
            cps = []
        if not self._history_on() or not cps:
            self.counters["oosm_dropped"] += 1
            return self._none_ended
        self.counters["oosm_rerun"] += 1
        cp = cps[-1]
        before = self.tab.copy()
        ended_before = set(self._ended)
        tail = self._events[cp.index:pos] + [ev] + self._events[pos:]
        del self._events[cp.index:]
        self._checkpoints = [c for c in self._checkpoints if c.index <= cp.index]
        self.tab, self.t, self._clutter = cp.table.copy(), cp.t, dict(cp.clutter)
        for e in tail:
            self._record_and_apply(e)
        # a track the re-run brings back after its DELETED went out gets a new ID
        back = np.isin(self.tab.ids, np.fromiter(ended_before, np.int64, len(ended_before)))
        for row in np.flatnonzero(back):
            self.tab.ids[row] = self._next_id
            self._next_id += 1
        live = set(self.tab.ids.tolist())
        gone = [i for i, tid in enumerate(before.ids.tolist()) if tid not in live and tid not in ended_before]
        for i in gone:
            self._ended.setdefault(int(before.ids[i]), float(self.t or ev.time))
        # status already reported for tracks that survive the re-run
        prev = dict(zip(before.ids.tolist(), before.reported.tolist()))
        self.tab.reported[:] = [prev.get(i, 0) for i in self.tab.ids.tolist()]
        return before.select(np.asarray(gone, np.int64))

    def _prune(self) -> None:
        """Forget history older than the OOSM window (checked every few seconds, not every step)."""
        if not self._history_on() or self.t is None or not self._checkpoints or self.t < self._next_prune:
            return
        self._next_prune = self.t + min(10.0, self.config.checkpoint_interval_s)
        horizon = self.t - self.config.oosm_window_s
        old = [k for k, c in enumerate(self._checkpoints) if c.time <= horizon]
        if old and old[-1] > 0:
            self._forget_before(old[-1])
        sizes = np.fromiter((0 if e.scan is None else e.scan.size for e in self._events), np.int64, len(self._events))
        excess = int(sizes.sum()) - self.config.oosm_max_detections
        if excess > 0 and len(self._checkpoints) > 1:
            # drop whole checkpoint intervals, oldest first, until the rest fits (the last one always stays)
            dropped = np.concatenate([[0], np.cumsum(sizes)])[[c.index for c in self._checkpoints[1:]]]
            k = min(int(np.searchsorted(dropped, excess)) + 1, len(self._checkpoints) - 1)
            self._forget_before(k)
            self.counters["window_shrunk"] += 1
        # older than ``recent_checkpoints_s``, checkpoints ``checkpoint_interval_s`` apart
        self._checkpoints = self._thinned(self.t - self.config.recent_checkpoints_s)
        for key in [k for k, v in self._birth_ids.items() if v[1] < horizon]:
            del self._birth_ids[key]
        for key in [k for k, v in self._ended.items() if v < horizon]:
            del self._ended[key]

    def _thinned(self, cutoff: float) -> list[_Checkpoint]:
        """The checkpoints, those before ``cutoff`` only ``checkpoint_interval_s`` after the one kept
        before them (the oldest always stays: it may be the initial state)."""
        kept: list[_Checkpoint] = []
        for c in self._checkpoints:
            if kept and c.time < cutoff and c.time - kept[-1].time < self.config.checkpoint_interval_s:
                continue
            kept.append(c)
        return kept

    def _forget_before(self, k: int) -> None:
        """Drop the history before checkpoint ``k`` (it becomes the oldest)."""
        cut = self._checkpoints[k].index
        self._pruned = True
        self._checkpoints = self._checkpoints[k:]
        del self._events[:cut]
        for c in self._checkpoints:
            c.index -= cut

    # ------------------------------------------------------------------ one step
    def _gamma_at(self, sensor_enu: FloatArray) -> float:
        key = (round(float(sensor_enu[0]), 1), round(float(sensor_enu[1]), 1))
        if key not in self._grid_rot:
            lat, lon, _ = self.site.frame.to_geodetic(np.asarray(sensor_enu, dtype=float))
            self._grid_rot[key] = float(self.site.frame.grid_rotation_rad(lat, lon))
        return self._grid_rot[key]

    def _model(self, s: Scan) -> MeasurementModel:
        if s.sensor_type == SensorType.RADAR and self.config.radar_polar_update and s.polar is not None \
                and s.polar_sigma is not None:
            return polar_model(s.polar, s.polar_sigma, s.sensor_enu, self._gamma_at(s.sensor_enu), s.z, s.R)
        return position_model(s.z, s.R)

    def _clutter_density(self, s: Scan) -> float:
        spec = self.site.sensor_by_id.get(s.sensor_id)
        if spec is not None and spec.clutter_density_per_m2 is not None:
            return max(spec.clutter_density_per_m2, 1e-12)
        return self._clutter.get(s.sensor_id, self.config.clutter_by_type.get(str(s.sensor_type), 1e-6))

    def _learn_clutter(self, s: Scan, used: FloatArray) -> None:
        """The radar's clutter density from its unused detections (``used``: association weight per detection)."""
        spec = self.site.sensor_by_id.get(s.sensor_id)
        if (not self.config.clutter_online or spec is None or spec.clutter_density_per_m2 is not None
                or s.sensor_type != SensorType.RADAR or spec.max_range_m is None):
            return
        unused = int(np.sum(used < 0.5))
        a = self.config.clutter_ema
        area = math.pi * spec.max_range_m**2
        old = self._clutter_density(s)
        self._clutter[s.sensor_id] = max(1e-10, (1.0 - a) * old + a * unused / area)

    def _process(self, s: Scan) -> TrackTable:
        cfg = self.config
        self.t = s.time if self.t is None else max(self.t, s.time)
        model = self._model(s)
        # the touched tracks, predicted to s.time: a copy written back below, or the table itself
        rows, tab, g, covered, pos = self._reach(s, model)
        n, m = tab.n, s.size
        pd = cfg.pd_by_type.get(str(s.sensor_type), 0.9)
        lam = self._clutter_density(s)
        logw = np.log(np.maximum(tab.r[g.ti], 1e-300)) + math.log(pd) + g.loglik \
            - np.log(lam * model.density_scale[g.dj])
        logw0 = np.log(np.maximum(1.0 - pd * tab.r, 1e-300))
        detected = np.zeros(n, bool)
        r_miss = management.miss_update(tab.r, pd)
        if cfg.association == "gnn":
            sel = association.gnn(n, m, g.ti, g.dj, -(logw - logw0[g.ti]))
            ai, aj = g.ti[sel], g.dj[sel]
            x1, P1, ll = kalman_pairs(tab.xm, tab.Pm, model, ai, aj)
            tab.xm[ai], tab.Pm[ai] = x1, P1
            tab.mu[ai] = normalise_log(tab.mu[ai], ll)
            w, r_ai = np.exp(np.minimum(logw[sel], 700.0)), tab.r[ai]
            tab.r[ai] = (w + r_ai * (1.0 - pd)) / (w + 1.0 - pd * r_ai)
            detected[ai] = True
            used = np.zeros(m)
            used[aj] = 1.0
            pi, pj, pw = ai, aj, None  # one pair of weight 1 per updated track
            touched = detected
        else:
            psi = np.exp(np.clip(logw - logw0[g.ti], -700.0, 700.0))
            p, p0 = association.jpda(n, m, g.ti, g.dj, psi, cfg.jpda_iterations, cfg.jpda_exact_limit)
            touched = np.bincount(g.ti, minlength=n) > 0
            psum = np.bincount(g.ti, weights=p, minlength=n)
            r_new = np.where(touched, psum + p0 * r_miss, tab.r)
            beta = p / np.maximum(r_new[g.ti], 1e-300)
            beta0 = 1.0 - np.bincount(g.ti, weights=beta, minlength=n)
            x1, P1, ll = kalman_pairs(tab.xm, tab.Pm, model, g.ti, g.dj)
            tab.xm, tab.Pm = collapse(tab.xm, tab.Pm, g.ti, beta, np.maximum(beta0, 0.0), x1, P1)
            lam_m = np.repeat(np.exp(logw0)[:, None], self._modes, axis=1)
            np.add.at(lam_m, g.ti, np.exp(np.minimum(logw[:, None] + ll - g.loglik[:, None], 700.0)))
            tab.mu[touched] = normalise_log(tab.mu[touched], np.log(lam_m[touched]))
            tab.r = r_new
            detected = touched & (psum > 0.5 * np.maximum(r_new, 1e-300))
            used = np.bincount(g.dj, weights=p, minlength=m)
            pi, pj, pw = g.ti, g.dj, beta
        # radar scans say something about every covered track they did not detect
        if covered.any():
            miss = covered & ~touched
            tab.r[miss] = r_miss[miss]
        tab.r = np.minimum(tab.r, cfg.max_existence)
        # what the detections say: time, sensor, class label, head count
        tab.last_update[detected] = s.time
        bit = self._sensor_bit.get(s.sensor_id)
        if bit is not None:
            tab.sensors[detected, bit[0]] |= bit[1]
        if pi.size:
            det = s.class_probs
            if s.snr_db is not None and s.polar is not None:  # radar: the echo's size is a (weak) class cue
                det = classify.with_rcs(det, s.snr_db, s.polar[:, 0])
            if pw is None:  # one detection of weight 1 per track: the likelihood is its own, exactly
                tab.label[pi] = classify.label_update(tab.label[pi], det[pj], cfg.label_floor)
            else:
                lik = classify.label_likelihoods(n, pi, pj, pw, det)
                tab.label[touched] = classify.label_update(tab.label[touched], lik[touched], cfg.label_floor)
            if s.sensor_type != SensorType.RADAR:
                strong = slice(None) if pw is None else pw > 0.5
                tab.count[pi[strong]] = s.count[pj[strong]]
        tab.confirmed |= tab.r >= cfg.confirm_existence
        tab.refresh(slice(None))
        if tab is not self.tab:
            self.tab.put(rows, tab, SCAN_COLUMNS)
        pos[rows] = tab.xc[:, :2]
        self._learn_clutter(s, used)
        ended = self._merge_duplicates(rows[detected], float(s.time), pos)
        self._birth(s, model, 1.0 - np.minimum(used, 1.0), lam)
        return ended.concat(self._remove(management.stale(self.tab, self.t, cfg, self._k9_mask)))

    def _reach(
        self, s: Scan, model: MeasurementModel
    ) -> tuple[IntArray, TrackTable, Gated, NDArray[np.bool_], FloatArray]:
        """The rows this scan touches predicted to its time, their gated pairs and radar coverage.

        Touched: a detection inside the track's chi-squared gate, or (radar) the track
        inside its coverage. Candidates come from the exact predicted means (mixing keeps
        the mixture mean, F is common) and an upper bound on each pre-gate radius
        (``position_variance_bound``), so no track that could gate is missed; candidates
        that do not gate are predicted only into temporaries and left as they were (in a
        sector of at most ``_ALL_CANDIDATES`` tracks every track is a candidate: cheaper
        than the test, and the same result).
        Returns rows (global, ascending); their predicted table: a copy of those rows (for
        ``_process`` to update and write back; the table's own rows are left as they were),
        or the table itself, predicted in place, when every row is touched; the gated pairs
        with ``ti`` into ``rows``; the covered mask over ``rows``; and every track's predicted
        mean position (n, 2).
        """
        tab = self.tab
        T = float(s.time)
        dt = np.maximum(T - tab.t, 0.0)
        pos = _extrapolated(tab.xc.T, dt)
        covered = np.zeros(tab.n, bool)
        spec = self.site.sensor_by_id.get(s.sensor_id)
        if s.sensor_type == SensorType.RADAR and spec is not None:
            covered[:] = True
            if spec.max_range_m is not None:
                covered = np.hypot(*(pos - s.sensor_enu[:2]).T) <= spec.max_range_m
        cand = covered.nonzero()[0]
        if s.size and cand.size < tab.n <= _ALL_CANDIDATES:
            cand = np.arange(tab.n)
        elif s.size and cand.size < tab.n:  # the reach test for the tracks outside the coverage
            rest = (~covered).nonzero()[0] if cand.size else slice(None)
            bound = position_variance_bound(tab.moments[rest], dt[rest], self._q_max)
            near = rows_near(pos[rest], pregate_radius(bound, model.cart_R_lmax, self._gamma), model.cart)
            cand = np.union1d(rest[near], cand) if cand.size else near
        xm, Pm, mu, r = self._predicted(cand, T)
        x, P = combine(xm, Pm, mu)
        ti, dj = candidate_pairs(x[:, :2], P[:, :2, :2], model.cart, model.cart_R_lmax, self._gamma)
        g = chi2_gate(x, P, model, ti, dj, self._gamma)
        keep = covered[cand]
        keep[g.ti] = True
        sel = keep.nonzero()[0]
        rows = cand[sel]
        if sel.size < cand.size:  # take copies whole rows; a boolean mask goes element by element
            xm, Pm, mu, r = xm.take(sel, axis=0), Pm.take(sel, axis=0), mu.take(sel, axis=0), r[sel]
        if rows.size == tab.n:
            tab.xm[rows], tab.Pm[rows], tab.mu[rows], tab.r[rows] = xm, Pm, mu, r
            tab.t[rows] = T
            touched = tab
        else:
            touched = tab.select_with(rows, xm=xm, Pm=Pm, mu=mu, r=r, t=np.full(rows.size, T))
        local = keep.cumsum() - 1
        return rows, touched, Gated(local[g.ti], g.dj, g.d2, g.loglik), covered[rows], pos

    def _predicted(self, rows: IntArray, T: float) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """xm, Pm, mu and r of ``rows`` predicted from their own times to T (copies; rows already at T as they are)."""
        tab = self.tab
        xm, Pm, mu, r = tab.xm.take(rows, axis=0), tab.Pm.take(rows, axis=0), tab.mu.take(rows, axis=0), tab.r.take(rows)
        dt = T - tab.t.take(rows)
        go = dt > 0.0
        if go.all():  # the usual case: no masked copies
            xm, Pm, mu = imm_predict(xm, Pm, mu, dt, self._q, self._tau_key)
            r *= np.exp(-dt / self.config.survival_tau_s)
        elif go.any():
            xm[go], Pm[go], mu[go] = imm_predict(xm[go], Pm[go], mu[go], dt[go], self._q, self._tau_key)
            r[go] *= np.exp(-dt[go] / self.config.survival_tau_s)
        return xm, Pm, mu, r

    def _merge_duplicates(self, detected: IntArray, T: float, pos: FloatArray) -> TrackTable:
        """Duplicate test (management.py) between the tracks this step detected and the tracks
        within ``merge_distance_m`` of them (``pos``: mean positions at T), predicted to T in
        temporaries; a merge writes the surviving track's prediction back (it is touched)."""
        tab = self.tab
        is_det = np.zeros(tab.n, bool)
        is_det[detected] = True
        pairs = management.near_pairs(pos, self.config.merge_distance_m, detected)
        if pairs.shape[0] == 0:  # nothing near a detected track: no pair to count
            self._restart_counts(is_det, detected)
            return self._none_ended
        # the rows of the pairs (a handful: a Python set costs less than np.unique) and the pairs over them
        box = np.array(sorted(set(pairs.ravel().tolist())), np.int64)
        xm, Pm, mu, r = self._predicted(box, T)
        x, P = combine(xm, Pm, mu)
        k_box, d_box = management.duplicates(x, P, tab.ids[box], box.searchsorted(pairs), self._merge_threshold)
        if k_box.size == 0:  # near, but no pair alike: none to count
            self._restart_counts(is_det, detected)
            return self._none_ended
        keep, drop = box[k_box], box[d_box]
        both = is_det[keep] & is_det[drop]
        same = tab.dup_of[drop] == tab.ids[keep]
        n_new = np.where(both, 0, np.where(same, tab.dup_n[drop] + 1, 1))
        self._restart_counts(is_det, detected)
        tab.dup_of[drop] = tab.ids[keep]
        tab.dup_n[drop] = n_new
        ripe = n_new >= self.config.merge_steps
        keep, drop, k_box, d_box = keep[ripe], drop[ripe], k_box[ripe], d_box[ripe]
        if drop.size == 0:
            return self._none_ended
        tab.xm[keep], tab.Pm[keep], tab.mu[keep], tab.r[keep] = xm[k_box], Pm[k_box], mu[k_box], r[k_box]
        tab.refresh(keep)
        tab.t[keep] = T
        self.counters["merged"] += int(drop.size)
        # A track may absorb more than one duplicate in a step: unbuffered (ufunc.at) updates
        # take every one into account (fancy-index assignment would keep only the last).
        np.bitwise_or.at(tab.sensors, keep, tab.sensors[drop])
        np.maximum.at(tab.count, keep, tab.count[drop])
        np.maximum.at(tab.r, keep, r[d_box])  # tab.r[keep] holds r[k_box] (written above)
        np.logical_or.at(tab.confirmed, keep, tab.confirmed[drop])
        np.maximum.at(tab.last_update, keep, tab.last_update[drop])
        mask = np.zeros(tab.n, bool)
        mask[drop] = True
        return self._remove(mask)

    def _restart_counts(self, is_det: NDArray[np.bool_], detected: IntArray) -> None:
        """The duplicate pairs this step looked at (a detected track, or one that a detected
        track shadows) start counting again; a pair that passed is counted after this."""
        tab = self.tab
        shadow = tab.dup_of.nonzero()[0]
        if shadow.size and detected.size:
            seen = shadow[is_det[shadow] | _is_in(tab.dup_of[shadow], tab.ids[detected])]
            tab.dup_of[seen] = 0
            tab.dup_n[seen] = 0

    def _remove(self, rows: NDArray[np.bool_]) -> TrackTable:
        if not rows.any():
            return self._none_ended
        gone = self.tab.select(rows.nonzero()[0])
        self.tab = self.tab.drop(rows, room=max(64, (self.tab.n - gone.n) // 4))  # room for the births to come
        when = float(self.t) if self.t is not None else 0.0
        for tid in gone.ids.tolist():
            self._ended.setdefault(int(tid), when)
        return gone

    def _birth(self, s: Scan, model: MeasurementModel, free: FloatArray, lam: float) -> None:
        """Start a track from each detection that no track explains (single point, velocity prior).

        Every mode m starts at the detection with zero velocity and its own velocity
        variance s_m^2 (``init_speed_sigma_mps``): the track's prior is the mixture
        sum_m mu0_m N(0, s_m^2 I), and the IMM mode update mu_m <- mu_m N(nu; 0, S_m)
        on the next detections weighs walker against vehicle (a Kalman update with one
        broad prior would give a walker a vehicle's velocity noise for many scans).
        """
        cfg = self.config
        j = (free > 0.5).nonzero()[0]
        if j.size == 0:
            return
        k = j.size
        r0 = min(cfg.max_init_existence, cfg.birth_density_per_m2 / (cfg.birth_density_per_m2 + lam)) * free[j]
        x = np.zeros((k, 4))
        x[:, :2] = model.cart[j]
        Pm = np.zeros((k, self._modes, 4, 4))
        Pm[:, :, :2, :2] = model.cart_R[j][:, None]
        # K-9 teams follow people on foot: a walker's velocity prior, not a vehicle's
        sv2 = np.repeat(self._sv0_sq[None], k, axis=0)
        if s.sensor_type == SensorType.K9:
            sv2[:] = (1.25 * cfg.k9_walk_speed_mps) ** 2
        if s.heading_rad is not None:
            h = s.heading_rad[j]
            ok = ~np.isnan(h)
            x[ok, 2] = cfg.k9_walk_speed_mps * np.sin(h[ok])
            x[ok, 3] = cfg.k9_walk_speed_mps * np.cos(h[ok])
            sv2[ok] = cfg.k9_walk_speed_mps**2
        Pm[:, :, 2, 2] = Pm[:, :, 3, 3] = sv2
        ids = np.array([self._birth_id(f"{s.sensor_id}:{s.seq}:{s.time!r}:{int(jj)}") for jj in j], np.int64)
        bit = self._sensor_bit.get(s.sensor_id)
        sensors = np.zeros((k, self._sensor_words), np.uint64)
        if bit is not None:
            sensors[:, bit[0]] = bit[1]
        count = s.count[j] if s.sensor_type != SensorType.RADAR else np.ones(k, np.int64)
        born = TrackTable(
            ids=ids,
            xm=np.repeat(x[:, None], self._modes, axis=1),
            Pm=Pm,
            mu=np.repeat(self._mu0[None], k, axis=0),
            r=r0,
            label=classify.label_update(np.asarray(cfg.class_prior)[None], s.class_probs[j], cfg.label_floor),
            count=count.astype(np.int64),
            sensors=sensors,
            born=np.full(k, s.time),
            last_update=np.full(k, s.time),
            confirmed=r0 >= cfg.confirm_existence,
            reported=np.zeros(k, np.int8),
            dup_of=np.zeros(k, np.int64),
            dup_n=np.zeros(k, np.int64),
            t=np.full(k, float(s.time)),
        )
        self.tab = self.tab.concat(born)

    def _birth_id(self, key: str) -> int:
        """The ID a track started from this detection had before a re-run, else a new one."""
        old = self._birth_ids.get(key)
        if old is not None and old[0] not in self._ended:
            return old[0]
        tid = self._next_id
        self._next_id += 1
        if self._history_on():
            self._birth_ids[key] = (tid, float(self.t if self.t is not None else 0.0))
        return tid

    # ------------------------------------------------------------------ reports
    def track_id(self, serial: int) -> str:
        """``T-{sector}-{serial:06d}``."""
        return self._id_format.format(serial)

    def _reports(self, tab: TrackTable, codes: NDArray[np.int8], now: float) -> list[TrackReport]:
        """TrackReports for table rows as of ``now``, each predicted from its own time
        (moment-matched IMM prediction). Arrays are fresh per call, so rows are handed out as views."""
        if tab.n == 0:
            return []
        x, P = combine(tab.xm, tab.Pm, tab.mu)
        mu = tab.mu.copy()
        dt = now - tab.t
        go = dt > 0.0
        if go.any():
            x[go], P[go], mu[go] = predict_combined(x[go], P[go], mu[go], dt[go], self._q, self._tau_key)
        cp = classify.class_probs(tab.label, x[:, 2:], P[:, 2:, 2:])
        status = list(map(CODE_STATUS.__getitem__, codes.tolist()))
        # one hashable key per row: the word itself (up to 64 sensors), else the row's bytes
        masks = tab.sensors[:, 0].tolist() if self._sensor_words == 1 else \
            np.ascontiguousarray(tab.sensors).view(f"V{8 * self._sensor_words}").ravel().tolist()
        try:
            sensors = list(map(self._sensor_tuples.__getitem__, masks))
        except KeyError:  # a combination of sensors not seen before
            sensors = list(map(self._sensor_tuple, masks))
        ids = list(map(self._id_format.format, tab.ids.tolist()))
        updated = (tab.last_update == now).tolist()
        r = management.existence_at(tab, now, self.config).tolist()
        count = tab.count.tolist()
        t = float(now)
        sector = self.sector
        return track_reports(ids, t, status, list(x), list(P), r, list(cp), sensors, sector, count, list(mu), updated)

    def _sensor_tuple(self, mask: int | bytes) -> tuple[str, ...]:
        """The sensor ids of a row's mask key (``_reports``: an int, or little-endian words as bytes)."""
        got = self._sensor_tuples.get(mask)
        if got is None:
            bits = mask if isinstance(mask, int) else int.from_bytes(mask, "little")
            got = tuple(sid for b, sid in enumerate(self._sensor_ids) if bits >> b & 1)
            self._sensor_tuples[mask] = got
        return got
