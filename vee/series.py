"""Build the validated series of one service point from raw readings, edits and lifecycle windows.

Raw readings are never changed: this module derives points from them. Within a segment (one
physical register between resets) the validated value never decreases; consumption is the
cumulative sum of per-segment differences, so over any period it equals the register difference
and can be neither negative nor counted twice (docs/vee.md, "Consumption").
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ingest.model import Reading
from vee import estimate
from vee.config import VeeConfig
from vee.model import Edit, EditAction, Finding, Point, Rule, Status, Window
from vee.validate import Candidate, dedupe, mark_clock_skew, mark_future, mark_photo, mark_spikes

LIFECYCLE_SOURCE = "lifecycle"
MANUAL_SOURCE = "manual"


@dataclass(frozen=True, slots=True)
class Interval:
    """Consumption in (start_s, end_s]; estimated when any of it comes from a gap estimate."""

    start_s: int
    end_s: int
    used_ml: int
    estimated: bool


@dataclass(slots=True)
class Series:
    """The validated series of one point: ordered points, findings, and estimated spans."""

    point: str
    points: list[Point]
    findings: list[Finding]
    estimated_spans: list[tuple[int, int]] = field(default_factory=list)
    edited_ts: list[int] = field(default_factory=list)
    _ts: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._ts = [p.ts_s for p in self.points]

    def consumption_at(self, t_s: int) -> int:
        """Cumulative consumption (ml) at t_s; flat before the first and after the last point."""
        pts = self.points
        if not pts:
            return 0
        i = bisect_right(self._ts, t_s) - 1
        if i < 0:
            return pts[0].cum_ml
        a = pts[i]
        if i + 1 >= len(pts):
            return a.cum_ml
        b = pts[i + 1]
        if b.segment != a.segment or b.ts_s == a.ts_s:
            return a.cum_ml
        # Integer interpolation: floor keeps it monotone and exact at both ends.
        return a.cum_ml + (b.cum_ml - a.cum_ml) * (t_s - a.ts_s) // (b.ts_s - a.ts_s)

    def consumption(self, start_s: int, stop_s: int) -> int:
        """Millilitres used in (start_s, stop_s]."""
        if stop_s < start_s:
            raise ValueError("stop must not be before start")
        return self.consumption_at(stop_s) - self.consumption_at(start_s)

    def uses_estimates(self, start_s: int, stop_s: int) -> bool:
        """Whether any consumption in (start_s, stop_s] comes from an estimated gap."""
        return any(a < stop_s and b > start_s for a, b in self.estimated_spans)

    def uses_edits(self, start_s: int, stop_s: int) -> bool:
        return any(start_s < t <= stop_s for t in self.edited_ts) or any(
            start_s < p.ts_s <= stop_s and p.status == Status.EDITED for p in self.points
        )

    def intervals(self, start_s: int, stop_s: int, every_s: int) -> list[Interval]:
        """Consumption per (start+k·every, start+(k+1)·every], the last one cut at stop."""
        if every_s <= 0:
            raise ValueError("every_s must be > 0")
        out = []
        t = start_s
        prev = self.consumption_at(t)
        while t < stop_s:
            end = min(t + every_s, stop_s)
            cur = self.consumption_at(end)
            out.append(Interval(t, end, cur - prev, self.uses_estimates(t, end)))
            prev, t = cur, end
        return out

    def findings_for(self, ts_s: int) -> list[Finding]:
        return [f for f in self.findings if f.ts_s == ts_s]


def _apply_edits(cands: list[Candidate], edits: Iterable[Edit]) -> None:
    """The latest edit per (meter, ts) wins; replacements of missing readings add manual reads."""
    by_key = {(c.meter, c.ts_s): c for c in cands}
    for e in sorted(edits, key=lambda e: (e.at_s, e.id or 0)):
        c = by_key.get((e.meter, e.ts_s))
        if e.action == EditAction.REPLACE:
            if e.value_ml is None or e.value_ml < 0:
                raise ValueError(f"replace edit at {e.ts_s} needs a value >= 0 ml")
            if c is None:
                c = Candidate(e.meter, e.ts_s, e.value_ml, 0, None, MANUAL_SOURCE, None)
                cands.append(c)
                by_key[(e.meter, e.ts_s)] = c
            c.total_ml = e.value_ml
            c.status = Status.EDITED
        elif c is not None:
            c.confirmed = True
    cands.sort(key=lambda c: (c.meter, c.ts_s))


def _in_window(ts_s: int, w: Window) -> bool:
    return (w.start_s is None or ts_s > w.start_s) and (w.end_s is None or ts_s <= w.end_s)


def _window_candidates(cands: list[Candidate], w: Window) -> list[Candidate]:
    inside = [c for c in cands if c.meter == w.meter and _in_window(c.ts_s, w)]
    if w.final_ml is not None and w.end_s is not None:
        inside = [c for c in inside if c.ts_s != w.end_s]  # the lifecycle read is the operator's
        inside.append(
            Candidate(w.meter, w.end_s, w.final_ml, 0, None, LIFECYCLE_SOURCE, None, status=Status.LIFECYCLE)
        )
    if w.initial_ml is not None and w.start_s is not None:
        inside.insert(
            0,
            Candidate(
                w.meter, w.start_s, w.initial_ml, 0, None, LIFECYCLE_SOURCE, None, status=Status.LIFECYCLE
            ),
        )
    inside.sort(key=lambda c: (c.ts_s, c.status != Status.LIFECYCLE or c.ts_s != w.start_s))
    return inside


def _segment(
    window_cands: list[Candidate], cfg: VeeConfig, segment: int, findings: list[Finding]
) -> tuple[list[Point], int]:
    """Points of one window; a new segment at each reset, values held at the running maximum."""
    pts: list[Point] = []
    top: int | None = None
    boot: int | None = None
    first = True
    for c in window_cands:
        if c.excluded(cfg):
            continue
        step_flag = False
        if top is not None and c.total_ml < top:
            drop = top - c.total_ml
            new_boot = c.boot is not None and boot is not None and c.boot != boot
            if new_boot or drop > cfg.reverse_flow_max_ml:
                kind = "register reset (new boot)" if new_boot else "unannounced reset or meter swap"
                findings.append(
                    Finding(
                        c.meter,
                        c.ts_s,
                        Rule.NEGATIVE_STEP,
                        f"total fell {drop} ml: {kind}; a new segment starts",
                    )
                )
                segment += 1
                top = c.total_ml
                step_flag = True
            else:
                step_flag = True
                findings.append(
                    Finding(
                        c.meter,
                        c.ts_s,
                        Rule.NEGATIVE_STEP,
                        f"total fell {drop} ml within boot {c.boot}: reverse flow; held at {top} ml",
                    )
                )
        elif first:
            segment += 1
            first = False
        top = c.total_ml if top is None else max(top, c.total_ml)
        if c.boot is not None:
            boot = c.boot
        flags = sorted({*c.failed, *([Rule.NEGATIVE_STEP.value] if step_flag else [])})
        pts.append(
            Point(c.ts_s, c.meter, top, segment, c.status, raw_ml=c.raw_ml, source=c.source, flags=flags)
        )
    return pts, segment


def _accumulate(pts: list[Point]) -> None:
    cum = 0
    for i, p in enumerate(pts):
        if i and pts[i - 1].segment == p.segment:
            cum += p.total_ml - pts[i - 1].total_ml
        p.cum_ml = cum


def _fill_gaps(pts: list[Point], cfg: VeeConfig) -> tuple[list[Point], list[tuple[int, int]]]:
    spans = [
        (a.ts_s, b.ts_s, b.total_ml - a.total_ml)
        for a, b in zip(pts, pts[1:], strict=False)
        if a.segment == b.segment and 0 < b.ts_s - a.ts_s <= cfg.gap_s
    ]
    profile = estimate.build_profile(spans, cfg.tz, cfg.min_history_days * 86400)
    out: list[Point] = []
    gaps: list[tuple[int, int]] = []
    for i, a in enumerate(pts):
        out.append(a)
        if i + 1 == len(pts):
            break
        b = pts[i + 1]
        if a.segment != b.segment or b.ts_s - a.ts_s <= cfg.gap_s:
            continue
        gaps.append((a.ts_s, b.ts_s))
        for t, v in estimate.fill_gap(
            a.ts_s, a.total_ml, b.ts_s, b.total_ml, cfg.estimate_step_s, profile, cfg.tz
        ):
            out.append(Point(t, a.meter, v, a.segment, Status.ESTIMATED, source="estimate"))
    return out, gaps


def build_series(
    point: str,
    readings: Sequence[Reading],
    cfg: VeeConfig,
    now_s: int,
    *,
    windows: Sequence[Window] | None = None,
    edits: Iterable[Edit] = (),
) -> Series:
    """The validated series of `point` (by default one meter of the same id, installed forever)."""
    from vee import history_rules

    windows = list(windows) if windows else [Window(point)]
    meters = {w.meter for w in windows}
    cands, _conflicts = dedupe([r for r in readings if r.meter in meters])
    _apply_edits(cands, [e for e in edits if e.meter in meters])
    mark_future(cands, now_s, cfg)
    mark_photo(cands, cfg)
    mark_clock_skew(cands)
    findings: list[Finding] = []
    placed: set[int] = set()
    pts: list[Point] = []
    segment = 0
    for w in sorted(windows, key=lambda w: (w.start_s is not None, w.start_s or 0)):
        wc = _window_candidates(cands, w)
        mark_spikes(wc, cfg)
        placed.update(id(c) for c in wc)
        seg_pts, segment = _segment(wc, cfg, segment, findings)
        pts.extend(seg_pts)
    for c in cands:
        for rule, detail in c.failed.items():
            findings.append(Finding(c.meter, c.ts_s, Rule(rule), detail, excluded=c.excluded(cfg)))
        if id(c) not in placed and c.status != Status.LIFECYCLE:
            findings.append(
                Finding(
                    c.meter,
                    c.ts_s,
                    Rule.OUTSIDE_INSTALLATION,
                    f"reading of {c.meter} outside its installation at {point}",
                    excluded=True,
                )
            )
    pts.sort(key=lambda p: (p.ts_s, p.segment))
    _accumulate(pts)
    pts, gaps = _fill_gaps(pts, cfg)
    _accumulate(pts)
    series = Series(point, pts, findings, gaps, [c.ts_s for c in cands if c.status == Status.EDITED])
    history_rules.apply(series, cfg)
    series.findings.sort(key=lambda f: (f.ts_s, f.rule))
    return series
