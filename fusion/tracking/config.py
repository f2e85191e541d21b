"""Tracker settings: one frozen dataclass, every number with its unit and why."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrackerConfig:
    """All tunables of ``SectorTracker``. Defaults suit walkers and vehicles seen by
    2 s tower radars (tens of metres accuracy), drones and K-9 teams."""

    # --- motion: IMM over nearly-constant-velocity modes (white-noise acceleration) ---
    #: Acceleration spectral density q (m^2/s^3) of each mode: a steady walker, a
    #: steady vehicle, and a manoeuvre mode (stop, turn back, start running, brake).
    mode_q: tuple[float, ...] = (0.02, 0.3, 6.0)
    #: Mean time (s) spent in each mode before switching (continuous-time Markov chain):
    #: people and vehicles keep one manner of moving for minutes, and a turn, stop or
    #: start takes seconds (stationary share of the manoeuvre mode 10/250 = 4%).
    mode_sojourn_s: tuple[float, ...] = (120.0, 120.0, 10.0)
    #: Mode probabilities of a new track.
    mode_init: tuple[float, ...] = (0.5, 0.3, 0.2)

    # --- measurement ---
    #: Update radar scans in range/bearing with an EKF (True) or with the converted
    #: Cartesian z/R that the scan carries (False).
    radar_polar_update: bool = True
    #: Detection probability by sensor type (radar misses lower a track's existence).
    pd_by_type: dict[str, float] = field(default_factory=lambda: {"radar": 0.9, "drone": 0.8, "k9": 0.5})
    #: Clutter density (false detections per m^2 per scan) when the site file gives none.
    clutter_by_type: dict[str, float] = field(default_factory=lambda: {"radar": 1e-6, "drone": 1e-6, "k9": 1e-8})
    #: Estimate radar clutter density online (EMA of unassociated detections over the
    #: radar's coverage) when the site file gives none.
    clutter_online: bool = True
    clutter_ema: float = 0.05

    # --- gating and association ---
    #: Chi-squared gate probability (2 degrees of freedom).
    gate_prob: float = 0.9995
    #: ``gnn`` (global nearest neighbour per cluster) or ``jpda`` (marginals by belief
    #: propagation, Williams & Lau 2014, exact on small clusters).
    association: str = "gnn"
    jpda_iterations: int = 50
    #: Loopy clusters with at most this many joint hypotheses get exact JPDA marginals.
    jpda_exact_limit: int = 4096

    # --- initiation ---
    #: Velocity standard deviation (m/s) per axis of a new track, one per mode: the walker
    #: mode starts with a walker's speeds, the vehicle mode with a vehicle's, so the mode
    #: likelihoods of the next detections pick the right prior instead of one broad
    #: compromise. The mixture with ``mode_init`` has sigma sqrt(sum mu_m s_m^2) = 7.4 m/s.
    init_speed_sigma_mps: tuple[float, ...] = (2.0, 12.0, 7.0)
    #: Birth density (new objects per m^2 per scan); with clutter density sets the
    #: existence of a track started from one detection: b / (b + clutter).
    birth_density_per_m2: float = 2e-8
    #: A single detection never starts a track with more existence than this.
    max_init_existence: float = 0.5
    #: Walking speed (m/s) assumed along a K-9 heading for a new track.
    k9_walk_speed_mps: float = 1.2

    # --- management ---
    confirm_existence: float = 0.9
    #: A confirmed or coasting track is worth showing while its existence is at least
    #: this (``management.reportable``): with GOSPA's cut-off c and alpha = 2, showing a
    #: track costs (1 - r) c^p/2 (false) + r d^p, hiding it r c^p/2 (missed), so show it
    #: when r > c^p / (2 (c^p - d^p)), 0.5 for errors d well inside c.
    report_existence: float = 0.5
    delete_existence: float = 0.01
    #: Existence is kept below this so that a few radar misses can end a track.
    max_existence: float = 0.999
    #: Survival time constant (s): existence decays as exp(-dt / tau) between updates.
    survival_tau_s: float = 3600.0
    #: A confirmed track not updated for this long is reported coasting.
    coast_after_s: float = 2.5
    #: Tracks not updated for this long are deleted (tentative, confirmed).
    max_tentative_age_s: float = 10.0
    #: ... except a track seen only by K-9 teams (reports minutes apart and late): its age
    #: limit, tentative or confirmed, counted from the last observation.
    k9_max_age_s: float = 600.0
    max_coast_s: float = 60.0
    #: Duplicate merge: two tracks closer than this (m) whose state difference is
    #: inside the chi-squared(4) gate at ``merge_prob`` are one object.
    merge_distance_m: float = 25.0
    merge_prob: float = 0.95
    #: ... for this many consecutive steps in none of which a scan updated both (two
    #: real objects side by side are usually both detected by the same radar scan).
    merge_steps: int = 3

    # --- class fusion ---
    #: Prior over CLASSES (person, vehicle, animal, unknown) of a new track.
    class_prior: tuple[float, ...] = (0.45, 0.2, 0.1, 0.25)
    #: Floor added to a label likelihood so one wrong label cannot zero a class.
    label_floor: float = 0.05

    # --- out-of-sequence measurements (bounded-lag re-run) ---
    #: How far back (s) a late measurement is still fused (K-9: up to 10 min).
    oosm_window_s: float = 660.0
    #: Interval (s) between state checkpoints a re-run starts from, older than ``recent_checkpoints_s``.
    checkpoint_interval_s: float = 20.0
    #: Over the last ``recent_checkpoints_s`` (s of track time) a checkpoint every this many seconds:
    #: a late step re-runs every step after the checkpoint before it, and a scan a fraction of a
    #: second late (the common case) re-ran up to 20 s of steps, about 2 s of work at 5,000
    #: detections/s. A checkpoint is one copy of the table (under a millisecond for thousands of
    #: tracks); older ones are thinned to ``checkpoint_interval_s``.
    recent_checkpoint_interval_s: float = 1.0
    recent_checkpoints_s: float = 10.0
    #: The history never holds many more detections than this (~200 B each: about 200 MB):
    #: under a flood the oldest checkpoint intervals go first, so the window shrinks below
    #: ``oosm_window_s`` (counted in ``window_shrunk``) and a measurement older than what is
    #: kept is counted in ``oosm_dropped``; memory stays bounded whatever the rate.
    oosm_max_detections: int = 1_000_000
