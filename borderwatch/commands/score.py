"""``borderwatch score RUN_DIR --truth TRUTH [--out REPORT_DIR] [--recording FILE]``: tracking and alert figures of a replay run.

Reads the replay outputs in RUN_DIR and the simulator's truth file, prints the headline
figures, and writes report.md, report.json and PNG plots (overview.png: map, GOSPA over
time and alert timeline on one page) to REPORT_DIR (default RUN_DIR/score). With the
recording, the map also shows what the sensors reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.recording import read_recording
from borderwatch.score import score_run, sensor_context, summary_lines, write_report
from simulators.truth import load_truth


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("score", help="score a replay run against ground truth; write a report with plots", description=__doc__)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="replay output directory (tracks.jsonl, alerts.jsonl, ...)")
    p.add_argument("--truth", type=Path, required=True, metavar="TRUTH", help="truth file written by borderwatch simulate")
    p.add_argument("--out", type=Path, metavar="REPORT_DIR", help="where to write the report (default RUN_DIR/score)")
    p.add_argument("--gospa-c", type=float, default=100.0, metavar="M", help="GOSPA cut-off distance, metres (default 100)")
    p.add_argument("--gospa-p", type=float, default=2.0, metavar="P", help="GOSPA order (default 2)")
    p.add_argument("--gate", type=float, default=300.0, metavar="M", help="alert-to-truth matching distance, metres (default 300)")
    p.add_argument("--max-age", type=float, default=10.0, metavar="S", help="a track report counts this long, seconds (default 10)")
    p.add_argument("--recording", type=Path, metavar="FILE", help="the replayed recording: draw raw detections, drone/K-9 paths and K-9 reports")
    p.add_argument("--no-plots", action="store_true", help="figures only: skip report files and plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        truth = load_truth(args.truth)
        report, outputs, series = score_run(args.run_dir, truth, args.gospa_c, args.gospa_p, args.max_age, args.gate)
    except (OSError, ValueError) as exc:
        print(f"score: {exc}", file=sys.stderr)
        return 2
    for line in summary_lines(report):
        print(line)
    if not args.no_plots:
        sensors = sensor_context(list(read_recording(args.recording)), truth.site_model()) if args.recording else None
        for path in write_report(report, outputs, series, truth, args.out or args.run_dir / "score", sensors):
            print(path)
    return 0
