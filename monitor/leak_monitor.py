"""Feeds every meter's minute use to the leak detector: fleet-wide batches, bounded backfills, checkpoints.

Each poll reads the whole fleet's new readings in one statement (`monitor.feed`), folds them into
minutes by the one consumption rule (exact millilitres) and feeds the detector. Minutes with no
reading are not fed (the detector treats them as missing, never as a leak). A meter new to the monitor
(or seen again after its state was lost) is first analysed over its stored history, up to
`lookback_s` back, so a burst or a leak already in the store is found and dated in data time; such
backfills, and catch-ups of readings that arrived too late for the fleet window, are bounded per poll
so the fleet stays real time while they proceed. The state (each meter's position and the detector)
is checkpointed; after a restart the minutes since the checkpoint are fed again and the alert sink
recognises the alerts it already has (their ids are data-time ids).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from core.consumption import Span
from core.units import DAY_S
from leaks.detector import LeakDetector
from leaks.model import LeakEvent, UsageNotice
from monitor.feed import FleetReadings, MinuteFolder, fleet_readings
from storage.readings.base import Store

log = logging.getLogger("monitor")

STATE_VERSION = 2
BACKFILL_CHUNK_S = DAY_S  # a meter's history is read a day at a time


class LeakMonitor:
    """Polls the store; returns the detector's events and hands each to `on_event`, notices to `on_notice`."""

    def __init__(
        self,
        store: Store,
        detector: LeakDetector,
        on_event: Callable[[LeakEvent], object] | None = None,
        state_path: Path | None = None,
        lookback_s: int = 30 * DAY_S,
        on_notice: Callable[[UsageNotice], object] | None = None,
        readings: FleetReadings | None = None,
        reorder_s: int = 120,
        backfill_per_poll: int = 200,
        rescan_every_s: float = 600.0,
        checkpoint_every_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ):
        self.readings = readings or fleet_readings(store)
        self.detector = detector
        self.on_event = on_event
        self.on_notice = on_notice
        self.state_path = Path(state_path) if state_path else None
        self.lookback_s = lookback_s
        self.reorder_s = reorder_s
        self.backfill_per_poll = backfill_per_poll
        self.rescan_every_s = rescan_every_s
        self.checkpoint_every_s = checkpoint_every_s
        self.clock = clock
        self.folders: dict[str, MinuteFolder] = {}
        # Meters to read one by one, in order, with their newest reading known (None: not yet known).
        self.backlog: dict[str, int | None] = {}
        self.fleet_cursor_s: int | None = None  # newest reading seen in the fleet-wide reads
        self.minutes_fed = 0
        self._rescanned_at = float("-inf")
        self._saved_at = float("-inf")
        self._load()

    # ---- state ----------------------------------------------------------------------------------------

    def _load(self) -> None:
        if not (self.state_path and self.state_path.exists()):
            return
        try:
            doc = json.loads(self.state_path.read_text())
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"state version {doc.get('version')!r}, not {STATE_VERSION}")
            # The thresholds configured now win over the saved ones; the meters' state carries on.
            detector = LeakDetector.from_dict(doc["detector"], config=self.detector.config)
            folders = {m: MinuteFolder.from_list(v) for m, v in doc["folders"].items()}
        except (ValueError, KeyError, TypeError) as err:
            # An older or damaged state: every meter is analysed again over its stored history.
            log.warning(
                "monitor state %s not used (%s): starting from the stored history", self.state_path, err
            )
            return
        self.detector = detector
        self.folders = folders
        self.fleet_cursor_s = doc.get("fleet_cursor_s")
        self.backlog = {m: None for m in doc.get("backlog", [])}

    def save(self) -> None:
        """Write the state now (atomically)."""
        if not self.state_path:
            return
        doc = {
            "version": STATE_VERSION,
            "fleet_cursor_s": self.fleet_cursor_s,
            "backlog": list(self.backlog),
            "folders": {m: f.to_list() for m, f in self.folders.items()},
            "detector": self.detector.to_dict(),
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, separators=(",", ":")))
        os.replace(tmp, self.state_path)
        self._saved_at = self.clock()

    @property
    def cursors(self) -> dict[str, int | None]:
        """Each meter's last reading folded (Unix s)."""
        return {m: f.last_ts_s for m, f in self.folders.items()}

    # ---- one poll -------------------------------------------------------------------------------------

    def poll(self) -> list[LeakEvent]:
        """Read what is new, feed every complete minute, return (and hand on) the events raised."""
        events: list[LeakEvent] = []
        notices: list[UsageNotice] = []
        now = self.clock()
        if now - self._rescanned_at >= self.rescan_every_s:
            self._rescan()
            self._rescanned_at = now
        if self.fleet_cursor_s is not None:
            self._fleet(events, notices)
        self._backfill(events, notices)
        for event in events:
            a = event.alert
            if event.kind != "progress":
                log.info(
                    "leak %s on %s: %s at %.1f L/h since %s",
                    event.kind,
                    a.meter,
                    a.kind,
                    a.rate_lph,
                    a.started_at,
                )
            if self.on_event:
                self.on_event(event)
        for notice in notices:
            if self.on_notice:
                self.on_notice(notice)
        if now - self._saved_at >= self.checkpoint_every_s:
            self.save()
        return events

    def _rescan(self) -> None:
        """Meters never seen, and meters whose readings arrived behind the fleet window, go to the backlog."""
        newest = None
        window_s = None if self.fleet_cursor_s is None else self.fleet_cursor_s - self.reorder_s
        for m in self.readings.meters():
            newest = m.last_ts_s if newest is None else max(newest, m.last_ts_s)
            f = self.folders.get(m.meter)
            last = None if f is None else f.last_ts_s
            if last is None or (m.last_ts_s > last and (window_s is None or last < window_s)):
                self.backlog[m.meter] = max(m.last_ts_s, self.backlog.get(m.meter) or 0)
        if self.fleet_cursor_s is None and newest is not None:
            self.fleet_cursor_s = newest

    def _fleet(self, events: list[LeakEvent], notices: list[UsageNotice]) -> None:
        assert self.fleet_cursor_s is not None
        start_s = self.fleet_cursor_s - self.reorder_s
        newest = self.fleet_cursor_s
        for meter, marks in self.readings.since(start_s).items():
            newest = max(newest, marks[-1].ts_s)
            f = self.folders.get(meter)
            if meter in self.backlog or f is None or f.last_ts_s is None or f.last_ts_s < start_s:
                # Its history (or what came before this window) must be read first, in order.
                self.backlog[meter] = max(marks[-1].ts_s, self.backlog.get(meter) or 0)
                continue
            self._feed(meter, f.fold(marks), events, notices)
        self.fleet_cursor_s = min(newest, int(self.clock()) + 3600)  # a meter's clock far ahead moves nothing

    def _backfill(self, events: list[LeakEvent], notices: list[UsageNotice]) -> None:
        for meter in list(self.backlog)[: self.backfill_per_poll]:
            newest = self.backlog.pop(meter)
            f = self.folders.get(meter)
            if f is None or f.last_ts_s is None:
                if newest is None:
                    last = self.readings.anchor(meter, 2**62)
                    if last is None:
                        continue
                    newest = last.ts_s
                f = self.folders[meter] = MinuteFolder()
                start_s = newest - self.lookback_s
                anchor = self.readings.anchor(meter, start_s)
                if anchor is not None:
                    f.anchor = Span.of(anchor)
            else:
                start_s = f.last_ts_s
            stop_s = max(start_s, newest or start_s, self.fleet_cursor_s or start_s) + DAY_S  # all stored now
            a = start_s
            while a < stop_s:
                b = min(a + BACKFILL_CHUNK_S, stop_s)
                self._feed(meter, f.fold(self.readings.meter_since(meter, a, b)), events, notices)
                a = b

    def _feed(
        self,
        meter: str,
        minutes: list[tuple[int, float]],
        events: list[LeakEvent],
        notices: list[UsageNotice],
    ) -> None:
        update = self.detector.update
        for ts, litres in minutes:
            events.extend(update(meter, ts, litres))
        self.minutes_fed += len(minutes)
        notices.extend(self.detector.drain_notices())
