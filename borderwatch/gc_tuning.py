"""CPython garbage-collector settings for the long-running service.

CPython's cyclic collector stops the world while it walks the containers of the
generations it collects. With the service's heap (modules, the site, the trackers'
out-of-sequence history, alerting memory) a full collection took 60-140 ms on
5,000 det/s load traffic, every few seconds: a pause that lands on whichever alert is
being raised (``benchmarks/gc_pauses.py`` prints these figures, tuned and untuned side
by side). Two changes, both standard for long-running CPython services:

- ``gc.freeze()`` once start-up and recovery are done: what exists then (modules,
  functions, classes, the site, the restored state) moves to the permanent
  generation, which no collection walks. Frozen objects freed by reference counting
  are freed as usual; only reference cycles among them would stay until exit.
- Generation 0 collects after ``GEN0_THRESHOLD`` net container allocations instead
  of 700. Most containers here (per-message dicts, reports, payloads) die young and
  are freed by reference counting before the count gets there, so collections run a
  hundred times less often; a cycle that does form waits at most that many
  allocations longer.
"""

from __future__ import annotations

import gc

#: Net container allocations between generation-0 collections (CPython's default: 700).
GEN0_THRESHOLD = 10_000


def tune_for_service(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect once, freeze what survives, and raise the generation-0 threshold."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
