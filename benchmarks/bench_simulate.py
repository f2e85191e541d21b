"""Simulation speed on the shipped scenarios: simulate, write JSON Lines, write MCAP.

Run: .venv/bin/python benchmarks/bench_simulate.py
Prints one row per scenario (wall seconds; simulated seconds per wall second).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.recording import write_recording  # noqa: E402
from adapters.site_file import load_site  # noqa: E402
from simulators.engine import simulate  # noqa: E402
from simulators.scenario import load_scenario  # noqa: E402
from simulators.truth import write_truth  # noqa: E402


def main() -> None:
    print(f"{'scenario':30} {'sim s':>7} {'msgs':>7} {'objects':>7} {'simulate':>9} {'jsonl':>7} {'mcap':>7} {'truth':>7} {'x real':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((ROOT / "configs" / "scenarios").glob("*.yaml")):
            scenario = load_scenario(path)
            site = load_site(scenario.site_path)
            t0 = time.perf_counter()
            res = simulate(scenario, site)
            t1 = time.perf_counter()
            write_recording(res.messages, Path(tmp) / "r.jsonl")
            t2 = time.perf_counter()
            write_recording(res.messages, Path(tmp) / "r.mcap")
            t3 = time.perf_counter()
            write_truth(res.truth, Path(tmp) / "t.json")
            t4 = time.perf_counter()
            total = (t2 - t0) + (t4 - t3)
            print(
                f"{path.stem:30} {scenario.duration_s:7.0f} {len(res.messages):7d} {len(res.truth.objects):7d} "
                f"{t1 - t0:8.2f}s {t2 - t1:6.2f}s {t3 - t2:6.2f}s {t4 - t3:6.2f}s {scenario.duration_s / total:8.0f}"
            )


if __name__ == "__main__":
    main()
