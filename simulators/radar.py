"""Tower radar model: one contract detection message per scan, vectorised over scans and targets.

Per scan at time t (see ``RadarModel`` for the parameters):
1. every entity in coverage is detected with probability Pd(class, range) (independent
   draws per scan and entity);
2. detections closer than the resolution in both range and bearing (chained) merge into
   one at their mean range, bearing and radial speed: a close group gives one plot;
3. Gaussian noise is added in range, bearing and radial speed with the sigmas the
   message reports; SNR falls 40 log10 with range (radar equation) from a per-class
   level at 1 km;
4. Poisson clutter (mean ``clutter_per_scan`` times any burst factor) uniform in area
   over the coverage annulus.
Range is ground range and bearing is from true north at the tower: the inverse of
``fusion.geodesy.polar_to_enu``.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.geodesy import LocalFrame
from fusion.site import SensorSpec, Site
from simulators.motion import Motion
from simulators.outgoing import Outgoing, in_windows, recv_times
from simulators.scenario import RadarModel

SNR_AT_1KM_DB = {"person": 24.0, "vehicle": 36.0, "animal": 22.0}
CLUTTER_SNR_DB = (6.0, 14.0)  # uniform range of clutter plot SNR
DEFAULT_MAX_RANGE_M = 5000.0


def radar_parameters(model: RadarModel, spec: SensorSpec) -> tuple[float, float, float, float]:
    """(scan period s, max range m, full-Pd range m, clutter per scan) after site defaults."""
    period = model.scan_period_s or spec.scan_period_s or 1.0
    max_range = model.max_range_m or spec.max_range_m or DEFAULT_MAX_RANGE_M
    full = model.pd_full_range_m if model.pd_full_range_m is not None else 0.6 * max_range
    if model.clutter_per_scan is not None:
        clutter = model.clutter_per_scan
    else:
        clutter = (spec.clutter_density_per_m2 or 0.0) * np.pi * (max_range**2 - model.min_range_m**2)
    return float(period), float(max_range), float(min(full, max_range)), float(clutter)


def detection_probability(model: RadarModel, spec: SensorSpec, cls: np.ndarray, range_m: np.ndarray) -> np.ndarray:
    """Pd for entities of class ``cls`` at ground range ``range_m`` (0 outside coverage)."""
    _, max_range, full, _ = radar_parameters(model, spec)
    base = np.select([cls == "person", cls == "vehicle", cls == "animal"], [model.pd.person, model.pd.vehicle, model.pd.animal], 0.0)
    frac = np.clip((range_m - full) / max(max_range - full, 1e-9), 0.0, 1.0)
    pd = base * (1.0 - (1.0 - model.pd_edge_factor) * frac)
    covered = (range_m >= model.min_range_m) & (range_m <= max_range)
    return np.where(covered & ~np.isnan(range_m), pd, 0.0)


def _masked(model: RadarModel, range_m: np.ndarray, bearing_deg: np.ndarray) -> np.ndarray:
    hidden = np.zeros(range_m.shape, dtype=bool)
    for m in model.terrain_mask:
        width = (m.to_deg - m.from_deg) % 360.0
        in_sector = ((bearing_deg - m.from_deg) % 360.0) <= width
        hidden |= in_sector & (range_m > m.beyond_m)
    return hidden


def _resolution_clusters(scan: np.ndarray, range_m: np.ndarray, bearing_deg: np.ndarray, model: RadarModel) -> np.ndarray:
    """Cluster label per plot: plots of one scan within one resolution cell of each other
    (|dr| < resolution_range_m and |db| < resolution_bearing_deg), chained, are one cluster."""
    if scan.size == 0:
        return np.zeros(0, dtype=np.int64)
    pts = np.column_stack([scan * 1.0e6, range_m / model.resolution_range_m, bearing_deg / model.resolution_bearing_deg])
    pairs = cKDTree(pts).query_pairs(r=1.0, p=np.inf, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(scan.size, scan.size))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def polar_of(site: Site, spec: SensorSpec, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground range (m) and bearing (deg from true north at the tower) of site ENU points (..., 2);
    NaN where a point is NaN (only the finite points are converted: most entities are absent most of the time)."""
    flat = np.asarray(xy, dtype=float).reshape(-1, 2)
    ok = np.isfinite(flat).all(axis=1)
    rng = np.full(len(flat), np.nan)
    brg = np.full(len(flat), np.nan)
    if ok.any():
        lat, lon = site.frame.to_geodetic_2d(flat[ok, 0], flat[ok, 1])
        enu = LocalFrame(spec.lat, spec.lon, 0.0).to_enu(lat, lon, 0.0)
        rng[ok] = np.hypot(enu[..., 0], enu[..., 1])
        brg[ok] = np.degrees(np.arctan2(enu[..., 0], enu[..., 1])) % 360.0
    shape = np.shape(xy)[:-1]
    return rng.reshape(shape), brg.reshape(shape)


def simulate_radar(
    model: RadarModel,
    site: Site,
    motion: Motion,
    start: float,
    duration_s: float,
    offline: list[tuple[float, float]],
    bursts: list[tuple[float, float, float]],
    rng: np.random.Generator,
    topics: Topics,
) -> list[Outgoing]:
    """All detection messages of one radar over the run (``offline`` scans are not sent)."""
    spec = site.sensor_by_id[model.id]
    period, max_range, _, clutter = radar_parameters(model, spec)
    scan_t = np.arange(model.phase_s, duration_s, period)
    scan_t = scan_t[~in_windows(scan_t, offline)]
    n_scans = scan_t.size
    cls = np.array(motion.entity_class, dtype=object)
    n_ent = cls.size

    # 1. detection of entities
    if n_ent:
        xy = motion.entity_positions(scan_t)  # (S, M, 2)
        rng_m, brg = polar_of(site, spec, xy)
        tower_xy = site.sensor_enu(model.id)[:2]
        los = xy - tower_xy
        unit = los / np.maximum(np.linalg.norm(los, axis=-1, keepdims=True), 1e-9)
        radial = np.einsum("smk,smk->sm", motion.entity_velocities(scan_t), unit)
        pd = detection_probability(model, spec, np.broadcast_to(cls, rng_m.shape), rng_m)
        pd = np.where(_masked(model, rng_m, brg), 0.0, pd)
        hit = rng.random(pd.shape) < pd
        s_idx, m_idx = np.nonzero(hit)
        # 2. merge plots closer than the resolution in range and bearing (connected groups)
        inv = _resolution_clusters(s_idx, rng_m[s_idx, m_idx], brg[s_idx, m_idx], model)
        n_cells = int(inv.max()) + 1 if inv.size else 0
        cell_scan = np.zeros(n_cells, dtype=np.int64)
        cell_scan[inv] = s_idx
        n_in = np.bincount(inv, minlength=n_cells).astype(float)
        mean = lambda v: np.bincount(inv, weights=v, minlength=n_cells) / n_in  # noqa: E731
        d_scan = cell_scan
        d_range = mean(rng_m[s_idx, m_idx])
        d_brg = mean(brg[s_idx, m_idx])
        d_rad = mean(radial[s_idx, m_idx])
        snr_1km = np.array([SNR_AT_1KM_DB[c] for c in cls], dtype=float)[m_idx]  # per entity, then per detection
        d_snr = mean(snr_1km) + 10.0 * np.log10(n_in) - 40.0 * np.log10(np.maximum(d_range, 1.0) / 1000.0)
    else:
        d_scan = np.zeros(0, dtype=np.int64)
        d_range = d_brg = d_rad = d_snr = np.zeros(0)
    # 3. measurement noise
    n_det = d_scan.size
    d_range = np.abs(d_range + model.sigma_range_m * rng.standard_normal(n_det))
    d_brg = (d_brg + model.sigma_bearing_deg * rng.standard_normal(n_det)) % 360.0
    d_rad = d_rad + model.sigma_radial_speed_mps * rng.standard_normal(n_det)
    d_snr = d_snr + rng.standard_normal(n_det)
    # 4. clutter
    factor = np.ones(n_scans)
    for a, b, f in bursts:
        factor[(scan_t >= a) & (scan_t < b)] *= f
    n_clutter = rng.poisson(clutter * factor)
    c_scan = np.repeat(np.arange(n_scans), n_clutter)
    nc = c_scan.size
    r2 = model.min_range_m**2 + rng.random(nc) * (max_range**2 - model.min_range_m**2)
    c_range = np.sqrt(r2)
    c_brg = rng.random(nc) * 360.0
    c_rad = 0.5 * rng.standard_normal(nc)
    c_snr = CLUTTER_SNR_DB[0] + rng.random(nc) * (CLUTTER_SNR_DB[1] - CLUTTER_SNR_DB[0])

    scan = np.concatenate([d_scan, c_scan])
    rr = np.round(np.concatenate([d_range, c_range]), 1)
    bb = np.round(np.concatenate([d_brg, c_brg]), 3) % 360.0
    vv = np.round(np.concatenate([d_rad, c_rad]), 2)
    ss = np.round(np.concatenate([d_snr, c_snr]), 1)
    order = np.lexsort((bb, rr, scan))  # within a scan by range: nothing reveals which is clutter
    scan, rr, bb, vv, ss = scan[order], rr[order], bb[order], vv[order], ss[order]
    bounds = np.searchsorted(scan, np.arange(n_scans + 1))

    obs = start + scan_t
    recv = recv_times(obs, model.latency_s, rng)
    topic = topics.detections("radar", model.id)
    sr, sb = float(model.sigma_range_m), float(model.sigma_bearing_deg)
    out = []
    rr_l, bb_l, vv_l, ss_l = rr.tolist(), bb.tolist(), vv.tolist(), ss.tolist()
    for k in range(n_scans):
        dets = [
            {
                "range_m": rr_l[i],
                "bearing_deg": bb_l[i],
                "sigma_range_m": sr,
                "sigma_bearing_deg": sb,
                "radial_speed_mps": vv_l[i],
                "snr_db": ss_l[i],
            }
            for i in range(bounds[k], bounds[k + 1])
        ]
        payload = {"sensor_id": model.id, "seq": k, "time": to_iso(obs[k]), "detections": dets}
        out.append(Outgoing(float(recv[k]), float(obs[k]), topic, payload, model.id))
    return out
