"""The service's garbage-collector settings: start-up heap frozen, young objects collected less often, cycles still collected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import gc, weakref
import borderwatch.service  # the service's modules, as `borderwatch run` has them loaded
from borderwatch.gc_tuning import GEN0_THRESHOLD, tune_for_service

class Node:
    pass

tune_for_service()
assert gc.get_threshold()[0] == GEN0_THRESHOLD, gc.get_threshold()
frozen = gc.get_freeze_count()
assert frozen > 20_000, frozen  # the modules, functions and classes loaded so far
a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle made after start-up
gone = weakref.ref(a)
del a, b
gc.collect()
assert gone() is None  # the collector still frees cycles that form later
print("ok", frozen)
"""


def test_tuning_freezes_the_startup_heap_and_still_collects_later_cycles() -> None:
    """In a child process: the settings are process-wide and would leak into the other tests."""
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
