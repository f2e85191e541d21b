"""Alerting settings: every threshold in one frozen dataclass, with its unit and why.

Per-zone overrides come from the site file (``Zone.min_existence``); everything else
is set here and may be given in a site or service configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AlertConfig:
    # --- noise control -------------------------------------------------------------
    min_existence: float = 0.8  # tracks below this existence raise nothing (a zone's min_existence overrides inside it)
    animal_prob: float = 0.6  # a track is wildlife by label when P(animal) reaches this
    label_prob: float = 0.8  # ... and a person/vehicle by label (a drone has seen it) at this; otherwise motion decides ...
    threat_odds: float = 1.5  # ... while P(person) + P(vehicle) is at least this many times P(animal) (a coin flip waits for more scans)
    straightness_min: float = 0.8  # an unlabelled track is purposeful when its recent path is this straight (net / length) ...
    purpose_speed_mps: float = 0.85  # ... and it made this much net progress, m/s (walkers ~1.1-1.5; grazing animals mostly slower) ...
    approach_min_m: float = 100.0  # ... and has made this much progress towards the protected side since first seen ...
    straightness_window_s: float = 60.0  # ... over this window of its history ...
    straightness_min_span_s: float = 30.0  # ... once it has at least this much history
    port_margin_m: float = 250.0  # crossings (and predicted crossing points) this close to a port of entry are port traffic
    # --- predicted crossing --------------------------------------------------------
    horizon_s: float = 300.0  # look this far ahead for a crossing
    p_open: float = 0.8  # open a predicted_crossing when P(cross within horizon) reaches this
    p_close: float = 0.3  # ... and consider it over below this (hysteresis band p_close..p_open)
    close_hold_s: float = 30.0  # the probability must stay below p_close this long before the alert ends
    accel_psd_m2ps3: float = 0.005  # white-noise acceleration PSD widening the predicted path (walkers change pace)
    min_speed_mps: float = 0.2  # slower tracks are not predicted to cross (eta would be meaningless)
    # --- crossing ------------------------------------------------------------------
    crossing_recent_s: float = 60.0  # a side flip this recent still opens a crossing once the track qualifies
    crossing_margin_m: float = 5.0  # a side counts only beyond this distance from the line ...
    crossing_margin_sigmas: float = 1.0  # ... or this many standard deviations of the track's cross-line position
    crossing_confirm_updates: int = 2  # consecutive updates beyond the margin on the new side before the side flips
    return_hold_s: float = 120.0  # a crossing alert ends after its tracks have been back across this long
    alert_outbound_crossings: bool = False  # also alert crossings out of the protected side
    # --- incursion -----------------------------------------------------------------
    buffer_incursion_unprotected_side: bool = False  # buffer zones straddle the line; by default only the protected half raises incursions
    buffer_incursion_needs_label: bool = True  # ... and only for tracks labelled person/vehicle (radar-only tracks: crossing kinds cover them)
    zone_exit_margin_m: float = 20.0  # a track must be this far outside a zone ...
    zone_exit_hold_s: float = 30.0  # ... this long before its incursion ends
    # --- loitering -----------------------------------------------------------------
    loiter_distance_m: float = 100.0  # "near the line" (the simulators' truth uses 100 m ...
    loiter_exit_margin_m: float = 50.0  # hysteresis: leave the band only beyond distance + margin
    loiter_time_s: float = 300.0  # ... and 300 s): dwell this long near the line to be loitering
    loiter_approach_m: float = 200.0  # ... having come from at least this far from the line (animals born and grazing at the line are not)
    loiter_radius_m: float = 45.0  # ... staying within this radius of one spot all that time (grazing animals move on)
    # --- narcotics -----------------------------------------------------------------
    narcotics_gate_chi2: float = 9.21  # 99 % gate (2 dof) linking a K-9 indication to a track
    narcotics_max_link_m: float = 1000.0  # never link further than this, whatever the covariances
    narcotics_hold_s: float = 900.0  # an indication with no track ends after this
    # --- grouping ------------------------------------------------------------------
    group_distance_m: float = 60.0  # tracks closer than this ...
    group_speed_diff_mps: float = 0.8  # ... moving within this velocity difference are one group
    # --- emission ------------------------------------------------------------------
    update_move_m: float = 50.0  # send an update when the alert position moved this far
    update_eta_frac: float = 0.2  # ... or eta changed by this fraction (and at least update_eta_min_s)
    update_eta_min_s: float = 15.0
    stale_track_s: float = 120.0  # a track not reported this long is dropped as if deleted
    sweep_after_s: float = 5.0  # a sweep re-evaluates tracks not reported this long (time moved them; a radar reports every 2 s)
    low_confidence: float = 0.6  # existence below this lowers severity by one step

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
