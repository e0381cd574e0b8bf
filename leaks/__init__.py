"""Leak detection on per-minute consumption: streaming rules, alert lifecycle, evaluation."""

from leaks.config import LeakConfig
from leaks.detector import LeakDetector, detect_series
from leaks.model import LeakAlert, LeakEvent

__all__ = ["LeakAlert", "LeakConfig", "LeakDetector", "LeakEvent", "detect_series"]
