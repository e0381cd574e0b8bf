"""Build the validated series of one service point from raw readings, edits and lifecycle windows.

Raw readings are never changed: this module derives points from them. Segments and reverse flow
follow the one consumption rule (core.consumption): within a segment (one physical register between
resets) the validated value is the running maximum, so consumption, the cumulative growth of it,
over any period equals the register difference and can be neither negative nor counted twice
(docs/vee.md, "Consumption").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.consumption import Mark
from core.errors import Conflict
from core.readings import Reading, Source
from vee import estimate, history_rules
from vee.config import VeeConfig
from vee.model import Edit, EditAction, Finding, Point, Rule, Series, Status, Window
from vee.validate import Candidate, dedupe, mark_clock_skew, mark_future, mark_photo, mark_spikes

LIFECYCLE_SOURCE = Source.LIFECYCLE
MANUAL_SOURCE = Source.MANUAL


def _apply_edits(cands: list[Candidate], edits: Iterable[Edit]) -> None:
    """The latest edit per (meter, ts) wins; replacements of missing readings add manual reads."""
    by_key = {(c.meter, c.ts_s): c for c in cands}
    for e in sorted(edits, key=lambda e: (e.at_s, e.id or 0)):
        c = by_key.get((e.meter, e.ts_s))
        if e.action == EditAction.REPLACE:
            if e.value_ml is None or e.value_ml < 0:
                raise Conflict(f"stored replace edit at {e.ts_s} has no value >= 0 ml")
            if c is None:
                c = Candidate(e.meter, e.ts_s, e.value_ml, 0, None, MANUAL_SOURCE, None, None)
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
            Candidate(
                w.meter, w.end_s, w.final_ml, 0, None, LIFECYCLE_SOURCE, None, None, status=Status.LIFECYCLE
            )
        )
    if w.initial_ml is not None and w.start_s is not None:
        inside.insert(
            0,
            Candidate(
                w.meter,
                w.start_s,
                w.initial_ml,
                0,
                None,
                LIFECYCLE_SOURCE,
                None,
                None,
                status=Status.LIFECYCLE,
            ),
        )
    inside.sort(key=lambda c: (c.ts_s, c.status != Status.LIFECYCLE or c.ts_s != w.start_s))
    return inside


def _mark(c: Candidate) -> Mark:
    return Mark(c.ts_s, c.total_ml, c.boot if c.source == Source.DEVICE else None)


def _segment(
    window_cands: list[Candidate], cfg: VeeConfig, segment: int, findings: list[Finding]
) -> tuple[list[Point], int]:
    """Points of one window: a new segment at each break of the one rule, values held at the running max."""
    pts: list[Point] = []
    rule = cfg.rule
    top: int | None = None
    prev: Candidate | None = None
    for c in window_cands:
        if c.excluded(cfg):
            continue
        step_flag = False
        if prev is None:
            segment += 1
            top = c.total_ml
        elif rule.breaks(_mark(prev), _mark(c)):
            step = c.total_ml - prev.total_ml
            if step > 0:
                limit = f"{rule.max_flow_lpm:g} L/min"
                kind = f"total rose {step} ml on a new boot, faster than {limit}: register set"
            elif prev.boot is not None and c.boot is not None and prev.boot != c.boot:
                kind = f"total fell {-step} ml: register reset (new boot)"
            else:
                kind = f"total fell {-step} ml: unannounced reset or meter swap"
            findings.append(Finding(c.meter, c.ts_s, Rule.NEGATIVE_STEP, f"{kind}; a new segment starts"))
            segment += 1
            top = c.total_ml
            step_flag = True
        else:
            assert top is not None
            if c.total_ml < top:
                step_flag = True
                findings.append(
                    Finding(
                        c.meter,
                        c.ts_s,
                        Rule.NEGATIVE_STEP,
                        f"total {top - c.total_ml} ml below the segment's highest within boot {c.boot}: "
                        f"reverse flow; held at {top} ml",
                    )
                )
            top = max(top, c.total_ml)
        prev = c
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
            out.append(Point(t, a.meter, v, a.segment, Status.ESTIMATED, source=Source.ESTIMATE))
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
