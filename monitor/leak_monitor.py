"""Feeds each meter's per-minute use from the readings store to the leak detector.

Minute use comes from register totals by the one consumption rule (storage.readings.usage →
core.consumption, exact millilitres); minutes with no reading are not fed (the detector treats them
as missing, never as a leak). A per-meter cursor and the detector's state are saved after every poll,
so a restart resumes where it stopped without feeding a minute twice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from core.units import DAY_S, MINUTE_S, ML_PER_L
from leaks.detector import LeakDetector
from leaks.model import LeakEvent
from storage.readings.base import Store
from storage.readings.usage import usage

log = logging.getLogger("monitor")

CHUNK_S = DAY_S  # at most a day of minutes per store query


class LeakMonitor:
    """Polls the store; returns the detector's events and hands each to `on_event`."""

    def __init__(
        self,
        store: Store,
        detector: LeakDetector,
        on_event: Callable[[LeakEvent], object] | None = None,
        state_path: Path | None = None,
        lookback_s: int = 2 * DAY_S,
    ):
        self.store = store
        self.detector = detector
        self.on_event = on_event
        self.state_path = Path(state_path) if state_path else None
        self.lookback_s = lookback_s
        self.cursors: dict[str, int] = {}
        self._load()

    def _load(self) -> None:
        if self.state_path and self.state_path.exists():
            doc = json.loads(self.state_path.read_text())
            self.cursors = {k: int(v) for k, v in doc["cursors"].items()}
            # The thresholds configured now win over the saved ones; the meters' state carries on.
            self.detector = LeakDetector.from_dict(doc["detector"], config=self.detector.config)

    def _save(self) -> None:
        if not self.state_path:
            return
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"cursors": self.cursors, "detector": self.detector.to_dict()}))
        os.replace(tmp, self.state_path)

    def poll(self) -> list[LeakEvent]:
        """Feed every complete minute since each meter's cursor; return the events raised."""
        events: list[LeakEvent] = []
        for meter in self.store.meters():
            last_s = meter.last_ts_s - meter.last_ts_s % MINUTE_S
            cursor = self.cursors.get(meter.meter, last_s - self.lookback_s)
            while cursor < last_s:
                stop = min(cursor + CHUNK_S, last_s)
                for iv in usage(self.store, meter.meter, cursor, stop, MINUTE_S).intervals:
                    if iv.readings:
                        events.extend(self.detector.update(meter.meter, iv.start_s, iv.used_ml / ML_PER_L))
                cursor = stop
            self.cursors[meter.meter] = cursor
        for event in events:
            log.info(
                "leak %s on %s: %s at %.1f L/h",
                event.kind,
                event.alert.meter,
                event.alert.kind,
                event.alert.rate_lph,
            )
            if self.on_event:
                self.on_event(event)
        self._save()
        return events
