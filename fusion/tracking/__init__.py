"""Multi-sensor, multi-target tracking for one sector, as small stages over a track table.

``SectorTracker`` (tracker.py) is the facade; ``TrackerConfig`` (config.py) holds
every tunable. The stages, each with its maths in its docstring: motion (IMM of
CV models), measurement (position and radar polar EKF), gating (KD-tree +
chi-squared), association (GNN per cluster, JPDA by belief propagation), update
(batched EKF and PDA collapse), management (existence, status, merge), classify
(class fusion), history (OOSM re-run). See docs/tracker.md.
"""

from fusion.tracking.config import TrackerConfig
from fusion.tracking.tracker import SectorTracker

__all__ = ["SectorTracker", "TrackerConfig"]
