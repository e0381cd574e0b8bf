"""Per-reading rules run before the series is built: duplicate, future, clock skew, photo, spike."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from core.readings import Reading, Source
from vee.config import VeeConfig
from vee.model import Rule, Status

DEVICE_SOURCE = Source.DEVICE


@dataclass(slots=True)
class Candidate:
    """A reading on its way into the validated series."""

    meter: str
    ts_s: int
    total_ml: int
    seq: int
    boot: int | None  # None: no boot of its own (manual or lifecycle reads)
    source: Source
    raw_ml: int | None
    confidence: float | None  # a photo reading's recogniser confidence
    status: Status = Status.ACTUAL
    failed: dict[str, str] = field(default_factory=dict)  # rule -> detail
    confirmed: bool = False

    def fail(self, rule: Rule, detail: str) -> None:
        self.failed[rule.value] = detail

    def excluded(self, cfg: VeeConfig) -> bool:
        """Kept out of the series: an excluding rule failed and no operator confirmed or replaced it."""
        if not self.failed or self.confirmed or self.status in (Status.EDITED, Status.LIFECYCLE):
            return False
        return any(rule in cfg.excluded_rules for rule in self.failed)


def dedupe(readings: list[Reading]) -> tuple[list[Candidate], list[tuple[Reading, str]]]:
    """One candidate per (meter, ts); identical redeliveries collapse, conflicts are reported."""
    by_key: dict[tuple[str, int], list[Reading]] = {}
    for r in readings:
        by_key.setdefault((r.meter, r.ts_s), []).append(r)
    out: list[Candidate] = []
    conflicts: list[tuple[Reading, str]] = []
    for group in by_key.values():
        if len(group) == 1:
            r = group[0]
            out.append(
                Candidate(r.meter, r.ts_s, r.total_ml, r.seq, r.boot, r.source, r.total_ml, r.confidence)
            )
            continue
        distinct = sorted(
            set(group), key=lambda r: (r.seq, r.total_ml, r.boot, r.source, r.confidence or 0.0)
        )
        keep = distinct[-1]
        cand = Candidate(
            keep.meter,
            keep.ts_s,
            keep.total_ml,
            keep.seq,
            keep.boot,
            keep.source,
            keep.total_ml,
            keep.confidence,
        )
        if len(distinct) > 1:
            others = ", ".join(f"{r.total_ml} ml (seq {r.seq})" for r in distinct[:-1])
            cand.fail(
                Rule.DUPLICATE,
                f"conflicting readings at the same time; kept {keep.total_ml} ml "
                f"(seq {keep.seq}), others: {others}",
            )
            conflicts.append((keep, others))
        out.append(cand)
    out.sort(key=lambda c: (c.meter, c.ts_s))
    # The same device reading (boot, seq) under two timestamps: keep the earliest, mark the rest.
    first_at: dict[tuple[str, int | None, int], int] = {}
    for c in out:
        if c.source != DEVICE_SOURCE:
            continue
        key = (c.meter, c.boot, c.seq)
        if key in first_at:
            c.fail(Rule.DUPLICATE, f"seq {c.seq} of boot {c.boot} already read at ts {first_at[key]}")
        else:
            first_at[key] = c.ts_s
    return out, conflicts


def mark_future(cands: list[Candidate], now_s: int, cfg: VeeConfig) -> None:
    for c in cands:
        if c.ts_s > now_s + cfg.max_future_s:
            c.fail(
                Rule.FUTURE, f"ts {c.ts_s} is {c.ts_s - now_s} s ahead of now (limit {cfg.max_future_s} s)"
            )


def mark_photo(cands: list[Candidate], cfg: VeeConfig) -> None:
    for c in cands:
        if c.source == Source.PHOTO and c.status == Status.ACTUAL:
            conf = c.confidence
            if conf is None or conf < cfg.photo_min_confidence:
                c.fail(
                    Rule.PHOTO_LOW_CONFIDENCE,
                    f"photo confidence {conf if conf is not None else 'unknown'} below "
                    f"{cfg.photo_min_confidence}",
                )


def _longest_increasing(seqs: list[int]) -> set[int]:
    """Indexes of one longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []
    tail_idx: list[int] = []
    parent = [-1] * len(seqs)
    for i, s in enumerate(seqs):
        k = bisect_left(tails, s)
        if k == len(tails):
            tails.append(s)
            tail_idx.append(i)
        else:
            tails[k] = s
            tail_idx[k] = i
        parent[i] = tail_idx[k - 1] if k else -1
    keep = set()
    i = tail_idx[-1] if tail_idx else -1
    while i >= 0:
        keep.add(i)
        i = parent[i]
    return keep


def mark_clock_skew(cands: list[Candidate]) -> None:
    """Within one boot the counter `seq` and the clock must agree on order; the minority is skewed."""
    by_boot: dict[tuple[str, int | None], list[Candidate]] = {}
    for c in cands:
        if c.source == DEVICE_SOURCE and c.status == Status.ACTUAL and Rule.DUPLICATE not in c.failed:
            by_boot.setdefault((c.meter, c.boot), []).append(c)
    for group in by_boot.values():
        group.sort(key=lambda c: c.ts_s)
        keep = _longest_increasing([c.seq for c in group])
        for i, c in enumerate(group):
            if i not in keep:
                c.fail(
                    Rule.CLOCK_SKEW,
                    f"seq {c.seq} at ts {c.ts_s} is out of order with the other "
                    f"readings of boot {c.boot}: device clock skew",
                )


def mark_spikes(cands: list[Candidate], cfg: VeeConfig) -> None:
    """A reading far above (or below) two neighbours of its boot that agree with each other."""
    live = [c for c in cands if not c.excluded(cfg)]
    prev = live[0] if live else None
    for i in range(1, len(live) - 1):
        cur, nxt = live[i], live[i + 1]
        assert prev is not None
        if (
            cur.status == Status.ACTUAL
            and cur.boot is not None
            and prev.boot == cur.boot == nxt.boot
            and nxt.total_ml + cfg.reverse_flow_max_ml >= prev.total_ml
        ):  # neighbours agree: no reset
            if cur.total_ml > nxt.total_ml + cfg.spike_min_ml:
                cur.fail(
                    Rule.SPIKE,
                    f"{cur.total_ml} ml is over {cfg.spike_min_ml} ml above the next "
                    f"reading {nxt.total_ml} ml",
                )
                continue
            if cur.total_ml < prev.total_ml - cfg.reverse_flow_max_ml and nxt.total_ml >= prev.total_ml:
                cur.fail(
                    Rule.SPIKE,
                    f"{cur.total_ml} ml dips below both neighbours ({prev.total_ml}, {nxt.total_ml} ml)",
                )
                continue
        prev = cur
