"""Score a replay run against the simulator's ground truth: tracking and alert figures, a report.

Inputs: ``RUN_DIR/{tracks,alerts,dispatch,deadletter}.jsonl`` (lines
``{"topic","payload"}`` as CONTRACT.md "Offline replay") and a truth file
(``simulators.truth``, which embeds the site).

Tracking, on the truth's 1 Hz grid: the estimate set at time t is every track whose
latest report at or before t is ``confirmed`` or ``coasting`` and at most
``max_age_s`` old, moved to t with its reported velocity. GOSPA (alpha 2, cut-off
``c``, order ``p``) from ``fusion.metrics`` compares it with the truth objects present
(a group is one object at its centroid); ID switches and fragmentations follow the
GOSPA assignment over time. Alert figures come from ``fusion.alert_metrics``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from adapters.ingest import parse_inbound
from adapters.recording import RecordedMessage
from adapters.timefmt import from_iso, to_iso
from adapters.topics import Topics
from fusion.alert_metrics import AlertEvent, AlertMetrics, DispatchEvent, TruthTable, alert_metrics, threat_crossings
from fusion.metrics import IdTracker, gospa
from fusion.site import Site
from fusion.types import Scan, SensorType
from simulators.truth import Truth

LIVE_STATUSES = ("confirmed", "coasting")


@dataclass(frozen=True)
class RunOutputs:
    """The published messages of one run, payloads parsed."""

    tracks: list[dict]
    alerts: list[dict]
    dispatch: list[dict]
    deadletters: list[dict]


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line)["payload"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{path}:{lineno}: not a {{topic, payload}} line: {exc}") from exc
    return out


def load_run(run_dir: Path) -> RunOutputs:
    if not (run_dir / "tracks.jsonl").exists() and not (run_dir / "alerts.jsonl").exists():
        raise FileNotFoundError(f"{run_dir}: no tracks.jsonl or alerts.jsonl (is it a replay output directory?)")
    return RunOutputs(*(_read_jsonl(run_dir / f"{n}.jsonl") for n in ("tracks", "alerts", "dispatch", "deadletter")))


@dataclass(frozen=True)
class TrackSeries:
    """One track's reports in time order: positions (k, 2) ENU metres, velocities (k, 2) m/s."""

    track_id: str
    times: np.ndarray
    xy: np.ndarray
    vel: np.ndarray
    live: np.ndarray  # (k,) bool: confirmed or coasting
    cls: str


def track_series(tracks: list[dict], site: Site) -> list[TrackSeries]:
    by_id: dict[str, list[dict]] = {}
    for p in tracks:
        by_id.setdefault(p["track_id"], []).append(p)
    out = []
    for tid in sorted(by_id):
        reps = sorted(by_id[tid], key=lambda p: from_iso(p["time"]))
        lat = np.array([p["lat"] for p in reps], dtype=float)
        lon = np.array([p["lon"] for p in reps], dtype=float)
        xy = site.frame.to_enu(lat, lon)[:, :2]
        vel = np.array([[p.get("vel_east_mps", 0.0), p.get("vel_north_mps", 0.0)] for p in reps], dtype=float)
        live = np.array([p["status"] in LIVE_STATUSES for p in reps])
        classes = [p.get("class", "unknown") for p in reps if p["status"] in LIVE_STATUSES] or ["unknown"]
        out.append(TrackSeries(tid, np.array([from_iso(p["time"]) for p in reps]), xy, vel, live, max(set(classes), key=classes.count)))
    return out


def estimates_on_grid(series: list[TrackSeries], grid: np.ndarray, max_age_s: float) -> np.ndarray:
    """(T, n_tracks, 2) estimated positions at grid times, NaN where a track is not live."""
    out = np.full((grid.size, len(series), 2), np.nan)
    for j, s in enumerate(series):
        k = np.searchsorted(s.times, grid, side="right") - 1
        ok = k >= 0
        kk = np.where(ok, k, 0)
        age = grid - s.times[kk]
        ok &= s.live[kk] & (age <= max_age_s)
        pred = s.xy[kk] + s.vel[kk] * age[:, None]
        out[ok, j] = pred[ok]
    return out


def truth_table(truth: Truth) -> TruthTable:
    grid = truth.times
    xy = np.full((grid.size, len(truth.objects), 2), np.nan)
    for j, o in enumerate(truth.objects):
        i0 = int(round((o.t_start - truth.start) / truth.dt_s))
        n = min(len(o.enu), grid.size - i0)
        xy[i0 : i0 + n, j] = o.enu[:n]
    return TruthTable(
        truth.start, truth.dt_s, [o.id for o in truth.objects], [o.cls for o in truth.objects], np.array([o.legal for o in truth.objects], dtype=bool), xy
    )


@dataclass
class TrackingMetrics:
    gospa_c_m: float
    gospa_p: float
    gospa_mean_m: float
    gospa_median_m: float
    localisation_rms_m: float | None  # over assigned pairs
    missed_mean: float  # missed truth objects per step
    false_mean: float  # false tracks per step
    id_switches: int
    fragmentations: int
    n_tracks_live: int  # tracks ever confirmed/coasting
    n_truth_objects: int
    series: dict[str, list[float]] = field(default_factory=dict)  # per grid step: t_s, total, missed, false


def tracking_metrics(truth: Truth, tt: TruthTable, series: list[TrackSeries], c: float, p: float, max_age_s: float) -> TrackingMetrics:
    grid = truth.times
    est = estimates_on_grid(series, grid, max_age_s)
    ids = IdTracker()
    total, n_missed, n_false, loc_sum, n_pairs = [], [], [], 0.0, 0
    for i in range(grid.size):
        tmask = ~np.isnan(tt.xy[i, :, 0])
        emask = ~np.isnan(est[i, :, 0])
        g = gospa(tt.xy[i, tmask], est[i, emask], c=c, p=p)
        total.append(g.total)
        n_missed.append(g.n_missed)
        n_false.append(g.n_false)
        loc_sum += g.localisation
        n_pairs += len(g.assignment)
        truth_ids = [tt.ids[k] for k in np.flatnonzero(tmask)]
        track_ids = [series[k].track_id for k in np.flatnonzero(emask)]
        ids.update_from_gospa(truth_ids, track_ids, g)
    live_tracks = sum(bool(s.live.any()) for s in series)
    return TrackingMetrics(
        gospa_c_m=c,
        gospa_p=p,
        gospa_mean_m=float(np.mean(total)),
        gospa_median_m=float(np.median(total)),
        localisation_rms_m=float((loc_sum / n_pairs) ** (1.0 / p)) if n_pairs else None,
        missed_mean=float(np.mean(n_missed)),
        false_mean=float(np.mean(n_false)),
        id_switches=ids.switches,
        fragmentations=ids.fragmentations,
        n_tracks_live=live_tracks,
        n_truth_objects=len(truth.objects),
        series={
            "t_s": (grid - truth.start).tolist(),
            "total_m": [round(v, 3) for v in total],
            "missed": n_missed,
            "false": n_false,
        },
    )


@dataclass(frozen=True)
class SensorContext:
    """What the sensors reported (from the recording), for the map: plots, platform paths, K-9 reports."""

    plots: np.ndarray  # (n, 2) ENU metres: radar and drone detections
    platforms: dict[str, np.ndarray]  # sensor id -> (k, 2) path of a drone or K-9 handler
    k9: list[tuple[np.ndarray, float, bool]]  # (position (2,), sigma m, narcotics)


def sensor_context(messages: list[RecordedMessage], site: Site) -> SensorContext:
    """Validate the recording's detection messages as the service does and keep where things were seen."""
    plots, platforms, k9 = [], {}, []
    for m in messages:
        scan = parse_inbound(m.topic, m.payload, m.recv_time, site, Topics())
        if not isinstance(scan, Scan):
            continue
        if scan.sensor_type == SensorType.K9:
            for i in range(scan.size):
                k9.append((scan.z[i], float(np.sqrt(scan.R[i, 0, 0])), bool(scan.narcotics is not None and scan.narcotics[i])))
        else:
            plots.append(scan.z)
        if scan.sensor_type != SensorType.RADAR:
            platforms.setdefault(scan.sensor_id, []).append(scan.sensor_enu[:2])
    return SensorContext(
        np.vstack(plots) if plots else np.zeros((0, 2)),
        {k: np.asarray(v) for k, v in platforms.items()},
        k9,
    )


def _alert_xy(p: dict, site: Site) -> tuple[float, float] | None:
    if p.get("lat") is None or p.get("lon") is None:
        return None
    e = site.frame.to_enu(p["lat"], p["lon"])
    return float(e[0]), float(e[1])


def alert_events(alerts: list[dict], site: Site) -> list[AlertEvent]:
    return [AlertEvent(p["alert_id"], p["state"], p["kind"], from_iso(p["time"]), _alert_xy(p, site)) for p in alerts]


def dispatch_events(dispatch: list[dict]) -> list[DispatchEvent]:
    return [
        DispatchEvent(p["dispatch_id"], p["alert_id"], p.get("state", "new"), from_iso(p["time"]), (p.get("intercept") or {}).get("eta_s"))
        for p in dispatch
    ]


@dataclass
class ScoreReport:
    scenario: str
    run_dir: str
    start: str
    duration_s: float
    tracking: TrackingMetrics
    alerts: AlertMetrics
    messages: dict[str, int]
    deadletter_reasons: dict[str, int]

    def to_dict(self, with_series: bool = True) -> dict:
        d = asdict(self)
        if not with_series:
            d["tracking"].pop("series")
        return d


def score_run(
    run_dir: Path,
    truth: Truth,
    gospa_c_m: float = 100.0,
    gospa_p: float = 2.0,
    max_age_s: float = 10.0,
    gate_m: float = 300.0,
) -> tuple[ScoreReport, RunOutputs, list[TrackSeries]]:
    """Everything ``borderwatch score`` reports, plus the parsed run for plotting."""
    site = truth.site_model()
    run = load_run(run_dir)
    series = track_series(run.tracks, site)
    tt = truth_table(truth)
    tracking = tracking_metrics(truth, tt, series, gospa_c_m, gospa_p, max_age_s)
    threats = threat_crossings([(c.object_id, c.time, c.cls, c.into_protected, c.legal) for c in truth.crossings])
    alerts = alert_metrics(tt, threats, alert_events(run.alerts, site), dispatch_events(run.dispatch), truth.duration_s, gate_m=gate_m)
    reasons: dict[str, int] = {}
    for d in run.deadletters:
        code = str(d.get("reason", "")).split(":", 1)[0] or "unknown"
        reasons[code] = reasons.get(code, 0) + 1
    report = ScoreReport(
        scenario=truth.scenario,
        run_dir=str(run_dir),
        start=to_iso(truth.start),
        duration_s=truth.duration_s,
        tracking=tracking,
        alerts=alerts,
        messages={"tracks": len(run.tracks), "alerts": len(run.alerts), "dispatch": len(run.dispatch), "deadletter": len(run.deadletters)},
        deadletter_reasons=dict(sorted(reasons.items())),
    )
    return report, run, series


def _fmt(v: float | None, unit: str = "", nd: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}{unit}"


def summary_lines(r: ScoreReport) -> list[str]:
    """The headline figures, as printed by ``borderwatch score``."""
    a, t = r.alerts, r.tracking
    frac = "n/a" if a.alerted_fraction is None else f"{100 * a.alerted_fraction:.0f} % ({a.n_alerted}/{a.n_crossings})"
    return [
        f"scenario {r.scenario}: {r.duration_s / 60:.1f} min from {r.start}",
        f"crossings alerted (<= 30 s after): {frac}; lead time median {_fmt(a.lead_median_s, ' s')}, p10 {_fmt(a.lead_p10_s, ' s')}",
        f"false alerts: {len(a.false_alert_ids)} ({a.false_alerts_per_hour:.2f} per hour)",
        f"dispatches: {len(a.dispatch_etas_s)}; intercept ETA median {_fmt(a.dispatch_eta_median_s, ' s')}, max {_fmt(a.dispatch_eta_max_s, ' s')}",
        f"GOSPA (c={t.gospa_c_m:g} m, p={t.gospa_p:g}): mean {t.gospa_mean_m:.1f} m, median {t.gospa_median_m:.1f} m; "
        f"localisation RMS {_fmt(t.localisation_rms_m, ' m')}; missed {t.missed_mean:.2f}/step, false {t.false_mean:.2f}/step",
        f"tracks {t.n_tracks_live} for {t.n_truth_objects} truth objects; ID switches {t.id_switches}, fragmentations {t.fragmentations}",
    ]


def markdown(r: ScoreReport, pictures: list[str]) -> str:
    a = r.alerts
    lines = [f"# Score: {r.scenario}", "", f"Run `{r.run_dir}`, {r.duration_s:.0f} s from {r.start}.", ""]
    lines += [f"![{p}]({p})" for p in pictures[:1]] + [""]
    lines += ["## Summary", ""] + [f"- {s}" for s in summary_lines(r)] + [""]
    lines += ["## Crossings into the protected side (people and vehicles, not port traffic)", ""]
    lines += ["| object | class | crossed at | alerted | lead time | alert | any-kind alert | team sent |", "|---|---|---|---|---|---|---|---|"]
    for c in a.crossings:
        lines.append(
            f"| {c.object_id} | {c.cls} | {to_iso(c.time)} | {'yes' if c.alerted else '**no**'} | {_fmt(c.lead_s, ' s', 0)} | "
            f"{c.alert_id or ''} | {'yes' if c.alerted_any_kind else 'no'} | {'yes' if c.dispatched else 'no'} |"
        )
    lines += ["", "## Alerts", "", "| kind | alerts |", "|---|---|"]
    lines += [f"| {k} | {n} |" for k, n in a.n_alerts_by_kind.items()]
    lines += ["", f"False alerts ({len(a.false_alert_ids)}): {', '.join(a.false_alert_ids) or 'none'}", ""]
    t = r.tracking
    lines += ["## Tracking", "", "| figure | value |", "|---|---|"]
    for k in ("gospa_mean_m", "gospa_median_m", "localisation_rms_m", "missed_mean", "false_mean", "id_switches", "fragmentations", "n_tracks_live", "n_truth_objects"):
        v = getattr(t, k)
        lines.append(f"| {k} | {v if isinstance(v, int) or v is None else round(v, 2)} |")
    lines += ["", "## Messages", "", "| output | lines |", "|---|---|"] + [f"| {k} | {v} |" for k, v in r.messages.items()]
    if r.deadletter_reasons:
        lines += ["", "Dead letters by reason: " + ", ".join(f"{k} {v}" for k, v in r.deadletter_reasons.items())]
    lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in pictures), ""]
    return "\n".join(lines)


def write_report(
    report: ScoreReport, run: RunOutputs, series: list[TrackSeries], truth: Truth, out_dir: Path, sensors: SensorContext | None = None
) -> list[Path]:
    """Write report.json, report.md and the PNG plots; returns the paths written."""
    from borderwatch.score_plots import write_plots  # matplotlib only when drawing

    out_dir.mkdir(parents=True, exist_ok=True)
    pictures = write_plots(report, run, series, truth, out_dir, sensors)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(report, [p.name for p in pictures]), encoding="utf-8")
    return [out_dir / "report.json", out_dir / "report.md", *pictures]
