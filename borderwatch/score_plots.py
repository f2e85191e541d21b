"""Plots of a scored run (matplotlib, Agg): the map, GOSPA over time and the alert timeline.

``overview.png`` puts all three on one page with the headline figures, so one picture
tells an engineer what happened; ``map.png``, ``gospa.png`` and ``timeline.png`` are
the same panels at full size. Axes are site ENU kilometres (east/north of the site
origin) and minutes since the start of the run.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from shapely.geometry import LineString  # noqa: E402

from adapters.timefmt import from_iso  # noqa: E402
from borderwatch.score import RunOutputs, ScoreReport, SensorContext, TrackSeries, summary_lines  # noqa: E402
from fusion.site import Site  # noqa: E402
from simulators.truth import Truth  # noqa: E402

CLASS_COLOUR = {"person": "#d62728", "vehicle": "#9467bd", "animal": "#2ca02c", "unknown": "#7f7f7f"}
KIND_COLOUR = {
    "predicted_crossing": "#ff7f0e",
    "crossing": "#d62728",
    "incursion": "#e377c2",
    "loitering": "#bcbd22",
    "narcotics": "#8c564b",
    "sensor_offline": "#7f7f7f",
}
TRACK_COLOURS = ["#1f77b4", "#17becf", "#393b79", "#5254a3", "#6b6ecf", "#3182bd", "#08519c", "#31a354"]


def _km(xy: np.ndarray) -> np.ndarray:
    return np.asarray(xy, dtype=float) / 1000.0


def _ll_xy(site: Site, lat: float, lon: float) -> np.ndarray:
    return site.frame.to_enu(lat, lon)[:2]


def _extent(truth: Truth, run: RunOutputs, site: Site) -> tuple[float, float, float, float]:
    """A box around the truth people and vehicles (all truth when there are none), the
    target alerts and the towers within 2 km of them; stray tracks elsewhere are clipped."""
    objs = [o.enu for o in truth.objects if len(o.enu) and o.cls != "animal" and not o.legal]
    pts = objs or [o.enu for o in truth.objects if len(o.enu)]
    alerts = [_ll_xy(site, a["lat"], a["lon"]) for a in run.alerts if a.get("lat") is not None and a["kind"] != "sensor_offline"]
    if alerts:
        pts.append(np.array(alerts))
    allp = np.vstack(pts) if pts else np.zeros((1, 2))
    lo, hi = np.nanmin(allp, axis=0), np.nanmax(allp, axis=0)
    towers = [xy[:2] for s in site.sensors if (xy := site.sensor_enu(s.id)) is not None]
    near = [t for t in towers if np.all(t >= lo - 2000.0) and np.all(t <= hi + 2000.0)]
    if near:
        lo, hi = np.minimum(lo, np.min(near, axis=0)), np.maximum(hi, np.max(near, axis=0))
    centre = (lo + hi) / 2
    half = np.maximum((hi - lo) / 2 + 300.0, 750.0)
    half = np.maximum(half, half[::-1] / 3.0)  # never thinner than 1:3 either way
    return centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1]


def _draw_sensors(ax: Axes, sensors: SensorContext) -> list[Line2D]:
    """Raw detections as faint dots, drone/handler paths dotted, K-9 reports as circles of one sigma."""
    if len(sensors.plots):
        k = _km(sensors.plots)
        ax.plot(k[:, 0], k[:, 1], ls="", marker=".", ms=1.0, color="#555555", alpha=0.25 if len(k) < 20_000 else 0.1, zorder=1)
    for sid, path in sensors.platforms.items():
        k = _km(path)
        ax.plot(k[:, 0], k[:, 1], ls=":", lw=1.0, color="#8c564b", zorder=1)
        ax.annotate(sid, k[-1], fontsize=7, color="#8c564b", textcoords="offset points", xytext=(3, 3))
    for xy, sigma, narcotics in sensors.k9:
        k = _km(xy)
        ax.add_patch(plt.Circle(tuple(k), sigma / 1000.0, fill=False, ls="--", color="#8c564b", lw=1.2, zorder=6))
        ax.plot(*k, marker="D", ms=7, color="#8c564b", zorder=6)
        if narcotics:
            ax.annotate("K-9: narcotics", k, fontsize=7, color="#8c564b", textcoords="offset points", xytext=(6, -10))
    return [
        Line2D([], [], ls="", marker=".", color="#555555", alpha=0.5, label="sensor detections (radar, drone)"),
        Line2D([], [], ls=":", color="#8c564b", label="drone / K-9 handler path"),
        Line2D([], [], ls="", marker="D", color="#8c564b", label="K-9 report (circle: 1 sigma)"),
    ]


def draw_map(
    ax: Axes, report: ScoreReport, run: RunOutputs, series: list[TrackSeries], truth: Truth, sensors: SensorContext | None = None
) -> None:
    site = truth.site_model()
    x0, x1, y0, y1 = _extent(truth, run, site)
    border = site.border_enu
    bk = _km(border)
    if site.border.protected_side in ("south", "north"):
        ylim = y0 / 1000 - 50 if site.border.protected_side == "south" else y1 / 1000 + 50
        ax.fill_between(bk[:, 0], bk[:, 1], ylim, color="#d62728", alpha=0.05, lw=0, label=f"protected side ({site.border.protected_side})")
    ax.plot(bk[:, 0], bk[:, 1], color="black", lw=2.2, label="border", zorder=3)
    for z in site.zones:
        if z.buffer_m is not None:
            ring = np.asarray(LineString(border).buffer(z.buffer_m).exterior.coords)
            ax.plot(*_km(ring).T, color="#ff7f0e", lw=0.8, ls="--", label=f"zone {z.id}")
        elif z.polygon is not None:
            c = np.asarray(z.polygon.coordinates[0], dtype=float)
            ring = _km(site.frame.to_enu(c[:, 1], c[:, 0])[:, :2])
            colour = {"port_of_entry": "#2ca02c", "restricted": "#d62728"}.get(z.kind, "#ff7f0e")
            ax.fill(ring[:, 0], ring[:, 1], color=colour, alpha=0.15, lw=1, ec=colour, label=f"{z.kind.replace('_', ' ')} {z.id}")
    for s in site.sensors:
        xy = site.sensor_enu(s.id)
        if xy is None:
            continue
        k = _km(xy[:2])
        ax.plot(*k, marker="^", ms=10, color="black", zorder=5)
        ax.annotate(s.id, k, textcoords="offset points", xytext=(6, -10), fontsize=8)
    for t in site.teams:
        if t.lat is not None and t.lon is not None:
            k = _km(_ll_xy(site, t.lat, t.lon))
            ax.plot(*k, marker="s", ms=7, color="#1f77b4", zorder=5)
            ax.annotate(t.id, k, textcoords="offset points", xytext=(6, 4), fontsize=8, color="#1f77b4")
    for o in truth.objects:
        k = _km(o.enu)
        ax.plot(k[:, 0], k[:, 1], color=CLASS_COLOUR.get(o.cls, "grey"), lw=7.0, alpha=0.3, solid_capstyle="round", zorder=2)
        if not o.legal and o.cls != "animal":
            ax.annotate(f"{o.id}" + (f" ({o.count})" if o.count > 1 else ""), k[0], fontsize=8, color=CLASS_COLOUR[o.cls],
                        textcoords="offset points", xytext=(4, 4))
        if len(k) > 1:
            ax.annotate("", k[-1], k[max(0, len(k) - 6)], arrowprops={"arrowstyle": "->", "color": CLASS_COLOUR.get(o.cls, "grey"), "lw": 1.5})
    for c in truth.crossings:
        if c.into_protected and not c.legal and c.cls != "animal":
            ax.plot(*_km(c.enu), marker="X", ms=11, color="black", zorder=6)
    alerted_tracks = {tid for a in run.alerts for tid in a.get("track_ids", [])}
    for j, s in enumerate(series):
        if not s.live.any():
            continue
        k = _km(s.xy[s.live])
        colour = TRACK_COLOURS[j % len(TRACK_COLOURS)]
        ax.plot(k[:, 0], k[:, 1], color=colour, lw=1.0, marker=".", ms=2, zorder=4)
        if s.track_id in alerted_tracks or len(series) <= 12:  # label what matters when there are many
            ax.annotate(s.track_id, k[-1], fontsize=7, color=colour, textcoords="offset points", xytext=(3, -8))
    raised = [a for a in run.alerts if a["state"] == "new" and a.get("lat") is not None]
    false = set(report.alerts.false_alert_ids)
    for a in raised:
        k = _km(_ll_xy(site, a["lat"], a["lon"]))
        ax.plot(*k, marker="*", ms=14, color=KIND_COLOUR.get(a["kind"], "grey"), mec="black", mew=0.5, zorder=7)
        if len(raised) <= 12 or a["alert_id"] not in false:  # many alerts: name only the true ones
            ax.annotate(a["alert_id"], k, fontsize=7, textcoords="offset points", xytext=(5, 5))
    for d in run.dispatch:
        if d.get("state", "new") == "new" and d.get("intercept"):
            k = _km(_ll_xy(site, d["intercept"]["lat"], d["intercept"]["lon"]))
            ax.plot(*k, marker="P", ms=10, color="#1f77b4", mec="black", mew=0.5, zorder=7)
    ax.set_xlim(x0 / 1000, x1 / 1000)
    ax.set_ylim(y0 / 1000, y1 / 1000)
    ax.set_aspect("equal")
    ax.set_xlabel("east of site origin (km)")
    ax.set_ylabel("north of site origin (km)")
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0]
    if sensors is not None:
        handles += _draw_sensors(ax, sensors)
    handles += [
        Line2D([], [], color=CLASS_COLOUR["person"], lw=3, alpha=0.4, label="truth: person"),
        Line2D([], [], color=CLASS_COLOUR["vehicle"], lw=3, alpha=0.4, label="truth: vehicle"),
        Line2D([], [], color=CLASS_COLOUR["animal"], lw=3, alpha=0.4, label="truth: animal"),
        Line2D([], [], color=TRACK_COLOURS[0], lw=1, marker=".", label="track (confirmed/coasting)"),
        Line2D([], [], ls="", marker="X", color="black", ms=9, label="illegal crossing (truth)"),
        Line2D([], [], ls="", marker="*", color=KIND_COLOUR["predicted_crossing"], mec="black", ms=12, label="alert raised"),
        Line2D([], [], ls="", marker="P", color="#1f77b4", mec="black", ms=9, label="dispatch intercept"),
        Line2D([], [], ls="", marker="^", color="black", ms=8, label="radar tower"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.85)
    ax.set_title("Map: truth (thick), tracks (thin), alerts (stars)")


def draw_gospa(ax: Axes, report: ScoreReport, truth: Truth) -> None:
    t = report.tracking
    s = t.series
    minutes = np.asarray(s["t_s"]) / 60.0
    total = np.asarray(s["total_m"])
    cp2 = t.gospa_c_m**t.gospa_p / 2.0
    missed = np.asarray(s["missed"]) * cp2
    false = np.asarray(s["false"]) * cp2
    power = np.maximum(total**t.gospa_p, 1e-12)
    loc = np.maximum(power - missed - false, 0.0)
    share = lambda part: part / power * total  # noqa: E731 - heights that stack up to the total
    ax.stackplot(minutes, share(loc), share(missed), share(false), colors=["#1f77b4", "#ff7f0e", "#7f7f7f"], alpha=0.6,
                 labels=["localisation", "missed objects", "false tracks"])
    ax.plot(minutes, total, color="black", lw=0.8 if len(total) <= 1800 else 0.3, label=f"GOSPA (c={t.gospa_c_m:g} m, p={t.gospa_p:g})")
    if len(total) > 1800:
        window = 60
        smooth = np.convolve(total, np.ones(window) / window, mode="same")
        ax.plot(minutes, smooth, color="#d62728", lw=1.5, label="GOSPA, 1 min mean")
    _fault_spans(ax, truth)
    _crossing_lines(ax, truth)
    ax.set_xlim(0, truth.duration_s / 60.0)
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("metres")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    ax.set_title(f"GOSPA over time: mean {t.gospa_mean_m:.1f} m; ID switches {t.id_switches}, fragmentations {t.fragmentations}")


def _fault_spans(ax: Axes, truth: Truth) -> None:
    """Shade fault windows (offline sensors, clutter bursts, ...); faults lasting the whole run are listed once."""
    whole = []
    for f in truth.faults:
        a = f.get("start_s", 0.0)
        b = f.get("end_s") if f.get("end_s") is not None else truth.duration_s
        if a <= 0.0 and b >= truth.duration_s:
            whole.append(f"{f['kind']} {f['sensor']}")
            continue
        ax.axvspan(a / 60.0, b / 60.0, color="#7f7f7f", alpha=0.08, hatch="//", lw=0)
        ax.annotate(f"{f['kind']} {f['sensor']}", (a / 60.0, 0.80), xycoords=("data", "axes fraction"), fontsize=7, color="#333333",
                    zorder=10, textcoords="offset points", xytext=(2, 0))
    if whole:
        ax.annotate("whole run: " + ", ".join(whole), (0.99, 0.97), xycoords="axes fraction", fontsize=7, color="#333333",
                    ha="right", va="top", zorder=10)


def _crossing_lines(ax: Axes, truth: Truth) -> None:
    for c in truth.crossings:
        if c.into_protected and not c.legal and c.cls != "animal":
            m = (c.time - truth.start) / 60.0
            ax.axvline(m, color="#d62728", ls="--", lw=1)
            ax.annotate(f"{c.object_id} crosses", (m, 1.0), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                        va="top", ha="right", color="#d62728")


def draw_timeline(ax: Axes, report: ScoreReport, run: RunOutputs, truth: Truth) -> None:
    by_id: dict[str, list[dict]] = {}
    for a in run.alerts:
        by_id.setdefault(a["alert_id"], []).append(a)
    order = sorted(by_id, key=lambda i: (from_iso(by_id[i][0]["time"]), i))
    false = set(report.alerts.false_alert_ids)
    end_min = truth.duration_s / 60.0
    for e in truth.loitering:
        ax.axvspan((e.start - truth.start) / 60, (e.end - truth.start) / 60, color="#bcbd22", alpha=0.15, lw=0)
    for row, aid in enumerate(order):
        evs = by_id[aid]
        times = [(from_iso(a["time"]) - truth.start) / 60.0 for a in evs]
        ended = evs[-1]["state"] == "end"
        stops = times[1:] + ([] if ended else [end_min])
        for a, t_from, t_to in zip(evs, times, stops):  # one segment per event: the kind may change (predicted -> crossing)
            ax.plot([t_from, t_to], [row, row], color=KIND_COLOUR.get(a["kind"], "grey"), lw=6, alpha=0.4 if aid in false else 0.85,
                    solid_capstyle="butt")
        if len(order) <= 25:  # update ticks; with many alerts they would only blacken the rows
            ax.plot(times, [row] * len(times), ls="", marker="|", color="black", ms=6)
        kinds = " -> ".join(dict.fromkeys(a["kind"] for a in evs))
        sensor = f" {evs[0]['sensor_id']}" if evs[0].get("sensor_id") else ""
        if len(order) > 25 and aid in false:
            continue  # many alerts: name only the true ones (false rows stay faded)
        late = times[0] > 0.6 * end_min  # label to the left of late rows so it stays inside the axes
        ax.annotate(f"{aid} {kinds}{sensor}" + (" (false)" if aid in false else ""), (times[0], row), fontsize=7, textcoords="offset points",
                    xytext=(-2 if late else 2, 3), ha="right" if late else "left")
    disp = [(from_iso(d["time"]) - truth.start) / 60.0 for d in run.dispatch if d.get("state", "new") == "new"]
    rows = [order.index(d["alert_id"]) if d["alert_id"] in by_id else -1 for d in run.dispatch if d.get("state", "new") == "new"]
    ax.plot(disp, rows, ls="", marker="v", color="#1f77b4", ms=8, label="team dispatched")
    _crossing_lines(ax, truth)
    ax.set_xlim(0, end_min)
    ax.set_ylim(len(order) - 0.5 + 0.8, -0.8)
    ax.set_yticks([])
    ax.set_xlabel("minutes since start")
    a = report.alerts
    frac = "n/a" if a.alerted_fraction is None else f"{100 * a.alerted_fraction:.0f} %"
    ax.set_title(f"Alerts: {len(order)} ({len(false)} false); crossings alerted {frac}, median lead {a.lead_median_s or 0:.0f} s"
                 if a.lead_median_s is not None else f"Alerts: {len(order)} ({len(false)} false); crossings alerted {frac}")
    kinds_seen = {a["kind"] for a in run.alerts}
    handles = [Line2D([], [], color=c, lw=6, label=k) for k, c in KIND_COLOUR.items() if k in kinds_seen]
    handles += [Line2D([], [], ls="", marker="v", color="#1f77b4", label="team dispatched"),
                Line2D([], [], color="#d62728", ls="--", label="illegal crossing (truth)")]
    if truth.loitering:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="#bcbd22", alpha=0.3, label="loitering (truth)"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3, axis="x")


def write_plots(
    report: ScoreReport, run: RunOutputs, series: list[TrackSeries], truth: Truth, out_dir: Path, sensors: SensorContext | None = None
) -> list[Path]:
    """overview.png (all panels and the headline figures), then map.png, gospa.png, timeline.png."""
    n_alerts = len({a["alert_id"] for a in run.alerts})
    paths = []
    x0, x1, y0, y1 = _extent(truth, run, truth.site_model())
    if (x1 - x0) > 2.0 * (y1 - y0):  # a long stretch of border: map across the top, plots below
        fig = plt.figure(figsize=(18, 12), layout="constrained")
        grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.2])
        draw_map(fig.add_subplot(grid[0, :]), report, run, series, truth, sensors)
        draw_gospa(fig.add_subplot(grid[1, 0]), report, truth)
        draw_timeline(fig.add_subplot(grid[1, 1]), report, run, truth)
    else:
        fig = plt.figure(figsize=(18, 10.5), layout="constrained")
        grid = fig.add_gridspec(2, 2, width_ratios=[1.1, 1], height_ratios=[1, 1.3])
        draw_map(fig.add_subplot(grid[:, 0]), report, run, series, truth, sensors)
        draw_gospa(fig.add_subplot(grid[0, 1]), report, truth)
        draw_timeline(fig.add_subplot(grid[1, 1]), report, run, truth)
    fig.suptitle("\n".join(summary_lines(report)[:4]), fontsize=10, ha="left", x=0.01)
    paths.append(out_dir / "overview.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    for name, size, draw in (
        ("map.png", (16, max(5.0, 16 * (y1 - y0) / (x1 - x0))) if (x1 - x0) > 2.0 * (y1 - y0) else (11, 10),
         lambda ax: draw_map(ax, report, run, series, truth, sensors)),
        ("gospa.png", (12, 4.5), lambda ax: draw_gospa(ax, report, truth)),
        ("timeline.png", (12, max(3.5, 1.5 + 0.3 * n_alerts)), lambda ax: draw_timeline(ax, report, run, truth)),
    ):
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        draw(ax)
        paths.append(out_dir / name)
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
