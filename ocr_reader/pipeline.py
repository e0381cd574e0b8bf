"""From a decoded photo to a PhotoReading: locate, rectify, split, recognise, resolve, judge."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from ocr_reader import textdet, textrec
from ocr_reader.api import PhotoReading, Previous
from ocr_reader.carry import circ, resolve, resolve_nearest_consistent
from ocr_reader.dials import CONFIDENT as DIALS_CONFIDENT
from ocr_reader.dials import combine_with_wheels, read_dials
from ocr_reader.errors import BadImage
from ocr_reader.finder import sideways, text_candidates, tilt_deg
from ocr_reader.locate import (
    BENT,
    Candidate,
    extended_quad,
    find_candidates,
    find_digit_rows,
    levelled,
    overlaps,
    rectify,
    share_inside,
    unlevelled,
)
from ocr_reader.plausibility import (
    HOUSEHOLD_MIN_WHOLE_WHEELS,
    beyond_household_range,
    check_plausibility,
    decimals_unseen,
    leading_wheels_lost,
)
from ocr_reader.recognise import WheelGuess, tesseract_digits, wheel_model
from ocr_reader.wheels import SIDE_TRIMS, WHEEL_COUNTS, RedEvidence, red_evidence, red_wheels, split

MIN_WINDOW_SCORE = 0.15  # locator score below which nothing looks like a counter window
MIN_FIT = 0.3  # mean wheel agreement below which a window is not a row of wheels
SECOND_METER_FIT = 0.8  # another window fitting this well (relative to the best) is a second meter
SECOND_METER_WINDOW_SCORE = 0.7  # ...or a window this clear (find_candidates score) that also fits
SECOND_METER_MIN_FIT = 0.6  # at least this well
# Calibrated on real wheel crops of makers the model never saw (real_crops.HELD_OUT_MAKERS, 2,219
# crops; bench/ocr_real.py prints the reliability curve): the smallest threshold keeping >= 99.5 %
# of accepted wheels right. Wheels standing on a digit: 0.8 -> 99.46 %, 0.85 -> 99.66 % (docs/ocr.md).
REVIEW_CONFIDENCE = 0.85
# A wheel caught between two digits must be read more surely: on the same crops 0.9 -> 99.07 %,
# 0.95 -> 99.74 % (7 of the 8 wrong at 0.9 from one make, whose wheels roll the other way).
ROLLING_REVIEW_CONFIDENCE = 0.95
# A row without decimal wheels reads a half-way last wheel as the lower digit: its whole m3 (carry.resolve)
HALF_DOWN = True
ROLLING_BAND = (0.2, 0.8)  # a wheel whose position's fraction lies strictly inside this is rolling
MAX_CANDIDATES = 4
PARTIAL_DOUBT_CONFIDENCE = 0.15  # a crop beyond the window read this surely may be a lost wheel
EXTEND_MIN_CONFIDENCE = 0.85  # every wheel added to a partial window must be read this surely
EXTEND_FIT_SLACK = 0.02  # ...and the grown window's fit may be this much lower than before
# A larger window around the chosen one that reads the same digits on the chosen one's wheels, plus
# more wheels, is the same counter seen whole (validation: the black wheels found alone, the frame
# around black and red ones): it may fit less well (rolling red wheels read less surely) by up to
# this much.
SAME_DIGITS_FIT_SLACK = 0.12
SAME_DIGITS_MIN_WHEEL = 0.7  # ...and each of its other wheels must be read at least this surely
DIAL_WHEEL_TOLERANCE = 0.3  # digits; a half-turn misread of the x0.1 dial is 0.5 off
FRAME_BONUS = 0.1  # a row inside an outlined window is preferred by this much fit (dev photos: serials)
RIVAL_FIT_MARGIN = 0.15  # another row (or the row turned over) reading within this much is a rival
# A row no outline confirms may be a serial number: any other row elsewhere that reads as wheels
# at all (fit >= MIN_FIT) is a rival then (dev photos: serials read as well as counters).
UNFRAMED_RIVAL_MARGIN = 1.0
UNFRAMED_MIN_FIT = 0.5  # ...and must itself read at least this well to be a candidate
COARSE_TO_FINE = True  # best_layout cuts one side trim first (False: every cut)
USE_TTA = True  # average the chosen cut's wheels over slightly shifted copies (see recognise.py)


@dataclass
class Layout:
    """The best way to cut one window into wheels, and the guesses it gave."""

    candidate: Candidate
    strip: np.ndarray
    n_wheels: int
    side_trim: float
    crops: list
    guesses: list[WheelGuess]
    fit: float
    runner_up_fit: float
    extend_px: tuple[int, int]
    maybe_partial: bool = False  # something wheel-like continues beyond the window's ends
    outline_guessed: bool = False  # no framed window was found: the outline was put around glyphs
    rivals: list = field(default_factory=list)  # other rows that read nearly as well (choose_window)
    turned: bool = False  # this layout is the chosen row read the other way up
    framed: bool = False  # an outlined window (locate.find_candidates) holds this row
    beyond_score: float = 0.0  # how wheel-like the crop one pitch beyond the chain's ends is
    beyond_sides: tuple[bool, bool] = (False, False)  # the chain's doubt at its (left, right) end
    weak_ends: bool = False  # the chain was continued by wheels read too weakly to link (chain_layout)
    weak_sides: tuple[int, int] = (0, 0)  # ...how many at its (left, right) end
    gap_sides: tuple[bool, bool] = (False, False)  # a wheel read surely past a gap at (left, right)

    @property
    def pitch_px(self) -> float:
        """Wheel pitch in strip pixels: the strip without its side frame, over the wheel count."""
        return (self.strip.shape[1] - 2 * self.side_trim * self.strip.shape[0]) / self.n_wheels


def _fit(guesses: list[WheelGuess]) -> float:
    return float(np.mean([g.score for g in guesses])) if guesses else 0.0


Known = dict[tuple[int, float], list[WheelGuess]]  # a strip's cuts already read: (count, trim) -> guesses


def _search(
    strip: np.ndarray,
    counts: tuple[int, ...],
    trims: tuple[float, ...] = SIDE_TRIMS,
    known: Known | None = None,
) -> list[tuple]:
    """Score every (wheel count, side trim) cut of a strip; one batched call to the recogniser for the
    cuts not in known (the same cuts of the same strip read before: the prescreen's quick look)."""
    cuts = []
    for n in counts:
        for trim in trims:
            crops = split(strip, n, trim)
            # Wheels are taller than wide; a crop much wider than tall cannot be one wheel.
            if len(crops) == n and crops[0].shape[1] <= 1.3 * crops[0].shape[0]:
                cuts.append((n, trim, crops))
    if not cuts:
        return []
    known = known or {}
    todo = [c for n, trim, crops in cuts if (n, trim) not in known for c in crops]
    guesses = iter(wheel_model().predict(todo) if todo else [])
    scored = []
    for n, trim, crops in cuts:
        g = known.get((n, trim)) or [next(guesses) for _ in range(n)]
        scored.append((_fit(g), n, trim, crops, g))
    scored.sort(key=lambda s: -s[0])
    return scored


# A window is cut first at one side trim, every wheel count: the recogniser's work is most of the
# reader's time, and most windows are no counter. Measured on the dev photos and three render sets
# (docs/ocr.md, round 12): no window whose first cuts fit below QUICK_MIN_FIT fits MIN_FIT at any
# trim, and a count whose first cut fits QUICK_COUNT_SLACK below the best one next to never wins.
QUICK_TRIM = 0.09
QUICK_MIN_FIT = 0.1  # a window whose first cuts fit below this is no row of wheels: not cut further
QUICK_COUNT_SLACK = 0.3  # ...else the other trims are cut for the counts fitting at most this much worse


def _coarse_to_fine(strip: np.ndarray, known: Known | None = None) -> list[tuple]:
    """_search over the counts and trims, the trims beyond QUICK_TRIM only for counts that may win."""
    quick = _search(strip, WHEEL_COUNTS, (QUICK_TRIM,), known)
    if not quick:  # every count too wide at this trim: a wider trim may still cut wheels
        return _search(strip, WHEEL_COUNTS)
    best = quick[0][0]
    if best < QUICK_MIN_FIT:
        return quick
    first = {s[1]: s[0] for s in quick}
    counts = tuple(n for n in WHEEL_COUNTS if first.get(n, best) >= best - QUICK_COUNT_SLACK)
    rest = _search(strip, counts, tuple(t for t in SIDE_TRIMS if t != QUICK_TRIM))
    return sorted(quick + rest, key=lambda s: -s[0])


def best_layout(bgr: np.ndarray, cand: Candidate, known: Known | None = None) -> Layout | None:
    """Try every wheel count and side trim (coarse to fine); keep the cut whose crops look most like
    centred wheels. known: cuts of this candidate's strip already read (`prescreened_layouts`)."""
    strip = rectify(bgr, cand.quad)
    scored = _coarse_to_fine(strip, known) if COARSE_TO_FINE else _search(strip, WHEEL_COUNTS, known=known)
    if not scored:
        return None
    fit, n, trim, crops, guesses = scored[0]
    other = [s[0] for s in scored[1:] if s[1] != n]
    return Layout(cand, strip, n, trim, crops, guesses, fit, max(other, default=0.0), (0, 0))


def extend_layout(bgr: np.ndarray, lay: Layout) -> Layout:
    """Grow a window found only in part (often the black wheels without the red ones) wheel by wheel."""
    best = lay
    pitch_px = lay.pitch_px
    for side in (1, 0):  # red wheels sit on the right: try that side first
        base = best
        for k in range(1, WHEEL_COUNTS[-1] - base.n_wheels + 1):
            ext = list(base.extend_px)
            ext[side] += int(round(k * pitch_px))
            strip = rectify(bgr, lay.candidate.quad, extend_px=(ext[0], ext[1]))
            scored = [s for s in _search(strip, (base.n_wheels + k,)) if s[0] >= base.fit - EXTEND_FIT_SLACK]
            if not scored:
                continue
            fit, n, trim, crops, guesses = scored[0]
            added = crops[-k:] if side == 1 else crops[:k]
            checked = wheel_model().predict(added)
            if min(g.score for g in checked) < EXTEND_MIN_CONFIDENCE:
                continue
            best = Layout(
                lay.candidate, strip, n, trim, crops, guesses, fit, lay.runner_up_fit, (ext[0], ext[1])
            )
    best.maybe_partial = best.n_wheels < WHEEL_COUNTS[-1] and _wheel_beyond(bgr, best, pitch_px)
    return best


# A longer chain at the other pitch, holding the chosen chain's digits, doubts its ends (chain_layout)
PITCH_DOUBT = True
CHAIN_STEPS = 8  # crops per pitch when sliding along the strip to find wheel centres
CHAIN_MIN_REACH = 2  # pitches the slide reaches beyond the window's ends (more for fewer wheels)
CHAIN_MIN_PEAK = 0.3  # a wheel centre must score at least this (confidence x (1 - junk))
CHAIN_GAIN = 0.5  # a chain's score adds (score - this) per wheel: weaker wheels shorten it
KEEP_WHEEL_MIN = 0.1  # ...unless the equal cut holds the chain's digits plus wheels read this surely
CHAIN_BETTER_FIT = 0.05  # an equal-pitch cut is replaced by a chain fitting this much better
# A chain continues one pitch (0.75-1.3) beyond an end, inside the window, through a crop that is a
# local peak scoring at least this: dim wheels (white on black, glared) read too weakly to pay their
# way in the chain, and a lost leading wheel is a reading 10^k off. Such a reading goes to review.
WEAK_WHEEL_MIN = 0.2
WEAK_WHEEL_INSET = 0.3  # ...and the crop's centre lies at least this many pitches inside the window


def _pitch_by_autocorrelation(strip: np.ndarray, pitch_px: float) -> float | None:
    """The wheel pitch (px) from the periodicity of the strip's column texture, near pitch_px."""
    grey = strip.min(axis=2).astype(np.float32) if strip.ndim == 3 else strip.astype(np.float32)
    h = grey.shape[0]
    profile = grey[h // 4 : h - h // 4].std(axis=0)
    profile -= profile.mean()
    n = len(profile)
    lo, hi = int(0.6 * pitch_px), min(n - 2, int(1.6 * pitch_px) + 1)
    if hi <= lo + 2:
        return None
    ac = np.array([float(profile[: n - k] @ profile[k:]) / (n - k) for k in range(lo - 1, hi + 2)])
    k = int(np.argmax(ac[1:-1])) + 1
    if ac[k] <= 0:
        return None
    a, b, c = ac[k - 1], ac[k], ac[k + 1]
    den = a - 2 * b + c
    frac = 0.5 * (a - c) / den if den < 0 else 0.0  # parabolic peak interpolation
    return lo - 1 + k + float(np.clip(frac, -0.5, 0.5))


def _chain(score: np.ndarray, xs: np.ndarray, pitch_px: float) -> tuple[float, list[int]]:
    """(total, indices) of the best run of wheel centres: score peaks about one pitch apart."""
    peaks = [
        i
        for i in range(len(score))
        if score[i] >= CHAIN_MIN_PEAK and score[i] == score[max(0, i - 3) : i + 4].max()
    ]
    best: dict[int, tuple[float, list[int]]] = {}
    for i in peaks:
        links = [best[j] for j in best if 0.7 * pitch_px <= xs[i] - xs[j] <= 1.4 * pitch_px]
        prev = max(links, key=lambda t: t[0], default=(0.0, []))
        head = (score[i] - CHAIN_GAIN, [i])
        best[i] = max(head, (prev[0] + score[i] - CHAIN_GAIN, prev[1] + [i]), key=lambda t: t[0])
    return max(best.values(), key=lambda t: t[0], default=(0.0, []))


def chain_layout(bgr: np.ndarray, lay: Layout) -> Layout | None:
    """Find the wheels by sliding the recogniser along the window and beyond its ends.

    Equal-pitch cuts need the window's ends: a locator outline that stops inside the last wheel,
    or holds only the black wheels, misplaces every cut. Here each wheel is where the crops look
    most like a centred wheel, wheels one pitch apart form a chain, and the chain's length is the
    wheel count. The pitch comes from the best cut and from the strip's periodicity.
    """
    pitch0 = lay.pitch_px
    pitches = [pitch0]
    ac = _pitch_by_autocorrelation(lay.strip, pitch0)
    if ac is not None and abs(ac / pitch0 - 1) > 0.04:
        pitches.append(ac)
    best: Layout | None = None
    best_total = 0.0
    chains: list[list[WheelGuess]] = []  # each pitch's chain
    for pitch in pitches:
        reach = int(round(max(CHAIN_MIN_REACH, WHEEL_COUNTS[-1] - lay.n_wheels) * pitch))
        reach_lr = [reach, reach]
        slid = _slide(bgr, lay.candidate, pitch, reach_lr)
        if slid is None:
            continue
        # The pitch of a short row is a guess: where the chain runs into the end of the slide with
        # room for more wheels, slide one pitch further on that side.
        if len(slid[1]) < WHEEL_COUNTS[-1]:
            idx0, n_sl = slid[1], len(slid[2])
            more = [idx0[0] - CHAIN_STEPS < 0, idx0[-1] + CHAIN_STEPS >= n_sl] if idx0 else [False, False]
            if any(more):
                reach_lr = [r + int(round(pitch)) * m for r, m in zip(reach_lr, more, strict=True)]
                slid = _slide(bgr, lay.candidate, pitch, reach_lr) or slid
        ext, idx, score, xs, crops, guesses, total, width, _ = slid
        if not WHEEL_COUNTS[0] <= len(idx) <= WHEEL_COUNTS[-1]:
            continue
        chains.append([guesses[i] for i in idx])
        # The chain must be this window's wheels, not something beside it.
        centre = (xs[idx[0]] + xs[idx[-1]]) / 2 + width / 2
        if not reach_lr[0] <= centre <= ext.shape[1] - reach_lr[1]:
            continue
        fit = float(np.mean(score[idx]))
        if best is None or total > best_total:
            best_total = total
            x0, x1 = int(round(xs[idx[0]])), int(round(xs[idx[-1]])) + width
            steps = (_end_step(idx, -1), _end_step(idx, 1))
            left, right = _beyond_at(score, idx[0], -1, steps[0]), _beyond_at(score, idx[-1], 1, steps[1])
            gap = (
                idx[0] - left > max(CHAIN_STEPS, steps[0]),
                right - idx[-1] > max(CHAIN_STEPS, steps[1]),
            )
            beyond = [score[i] for i in (left, right) if 0 <= i < len(score)]
            # Per end (left, right): the slide ran out, or something wheel-like lies a pitch beyond (or
            # a wheel past a gap, `_beyond_at`).
            sides = tuple(
                not 0 <= i < len(score)
                or (
                    score[i] >= PARTIAL_DOUBT_CONFIDENCE
                    and not (i == right and _only_decimals_lost(crops, idx, i))
                )
                for i in (left, right)
            )
            doubt = [d for i, d in zip((left, right), sides, strict=True) if 0 <= i < len(score)]
            best = Layout(
                lay.candidate,
                ext[:, x0:x1],
                len(idx),
                0.0,
                [crops[i] for i in idx],
                [guesses[i] for i in idx],
                fit,
                lay.runner_up_fit,
                # the strip's ends against the window's (rectify(quad, extend_px) cuts this very strip)
                (reach_lr[0] - x0, x1 - (ext.shape[1] - reach_lr[1])),
                # A chain of the most wheels a counter has cannot continue, whatever lies beyond it or
                # wherever its slide ran out (a row cut short whose chain grew to all its wheels).
                maybe_partial=(len(beyond) < 2 or any(doubt)) and len(idx) < WHEEL_COUNTS[-1],
                beyond_score=max(beyond, default=1.0),
                beyond_sides=(sides[0], sides[1]),
                weak_ends=any(slid[8]),
                weak_sides=slid[8],
                gap_sides=(gap[0] and sides[0], gap[1] and sides[1]),
            )
    # The other pitch's chain holds these wheels' digits and more: a wheel lost at an end (a
    # sideways dev photo read 2677.038 for 02677.038 at the shorter pitch, sure of every wheel).
    if PITCH_DOUBT and best is not None:
        left, right = best.beyond_sides
        for c in chains:
            at = _run_at(c, best.guesses) if len(c) > best.n_wheels else None
            if at is not None:
                best.maybe_partial = True
                left, right = left or at > 0, right or len(c) - best.n_wheels - at > 0
        best.beyond_sides = (bool(left), bool(right))
    return best


BEYOND_PITCHES = (1.0, 2.0)  # where a chain looks beyond an end for a wheel set off by a gap (pitches)
GAP_WHEEL_MIN = 0.8  # ...past one pitch only a crop read this surely
GAP_WHEEL_SPREAD = 0.5  # ...whose better neighbouring crop (1/CHAIN_STEPS pitch away) reads this surely


PERSPECTIVE_STEPS = True  # a chain's end is looked beyond at its own pitch too, not only the mean one
MIN_STEPS_FOR_TREND = 4  # wheel-to-wheel steps a chain needs for its pitch's trend to be extrapolated
MIN_TREND_STEPS = 2  # ...and by how many slide steps its first and last must differ


def _end_step(idx: list[int], side: int) -> int:
    """The slide's steps from a chain's end (side -1: first wheel, 1: last) to where the next wheel would be.

    A counter seen from one side shrinks towards its far end: its wheels' steps (7, 9, 9, 9, 11, 11 on a
    dev photo seen 30 degrees from the right) go on shrinking past the far end, and one mean pitch beyond
    it lands between the lost wheel and the last one found. The steps' straight-line trend, extrapolated
    one wheel past the end (within half and one and a half of a mean pitch); CHAIN_STEPS without a trend.
    """
    steps = np.diff(np.asarray(idx, dtype=float))
    if not PERSPECTIVE_STEPS or len(steps) < MIN_STEPS_FOR_TREND:
        return CHAIN_STEPS
    # A perspective's steps change one way all along the row, by a wheel's peak's spread at least; a
    # frontal row's steps only jitter about the pitch (9, 7, 9, 9), and its end is judged as before.
    rising, falling = bool(np.all(np.diff(steps) >= 0)), bool(np.all(np.diff(steps) <= 0))
    if not (rising or falling) or abs(steps[-1] - steps[0]) < MIN_TREND_STEPS:
        return CHAIN_STEPS
    slope, intercept = np.polyfit(np.arange(len(steps)), steps, 1)
    at = -1 if side < 0 else len(steps)
    return int(round(np.clip(intercept + slope * at, 0.5 * CHAIN_STEPS, 1.5 * CHAIN_STEPS)))


def _beyond_at(score: np.ndarray, end: int, side: int, step: int = CHAIN_STEPS) -> int:
    """The crop a chain's end is judged by: the one a pitch beyond it (perhaps outside the slide: it ran
    out) — of the crops between one mean pitch and the end's own pitch (`_end_step`), the most wheel-like —
    unless that is no wheel (< PARTIAL_DOUBT_CONFIDENCE) and a crop further out, within
    BEYOND_PITCHES, reads as a wheel set off by a wider gap (a box of its own): GAP_WHEEL_MIN, and
    GAP_WHEEL_SPREAD at a neighbouring crop. A wheel reads as one over a few crops of the slide; the
    edge of a frame or a plate reads as a "1" at one crop only (0.82-0.86 beside 0.0-0.24 on counters
    of real wheels), a unit label or a frame's edge at 0.2-0.57."""
    one = end + side * CHAIN_STEPS
    if not 0 <= one < len(score):
        return one
    # (a trend's extrapolation is good to a step: the slide places a wheel's peak within one)
    lo_k = min(step, CHAIN_STEPS) - (step < CHAIN_STEPS)
    hi_k = max(step, CHAIN_STEPS) + (step > CHAIN_STEPS)
    near = [end + side * k for k in range(lo_k, hi_k + 1)]
    one = max((i for i in near if 0 <= i < len(score)), key=lambda i: score[i])
    if score[one] >= PARTIAL_DOUBT_CONFIDENCE:
        return one
    lo, hi = (int(round(p * CHAIN_STEPS)) for p in BEYOND_PITCHES)
    at = [end + side * k for k in range(lo, hi + 1) if 0 <= end + side * k < len(score)]
    far = max(at, key=lambda i: score[i], default=one)
    spread = max((score[i] for i in (far - 1, far + 1) if 0 <= i < len(score)), default=0.0)
    return far if score[far] >= GAP_WHEEL_MIN and spread >= GAP_WHEEL_SPREAD else one


def _slide(bgr: np.ndarray, cand: Candidate, pitch: float, reach_lr: list[int]) -> tuple | None:
    """Slide pitch-wide crops along the window grown by reach_lr px (left, right); the best chain.

    (strip, chain indices, scores, crop x, crops, guesses, chain total, crop width, weak wheels added
    at the (left, right) end)
    """
    ext = rectify(bgr, cand.quad, extend_px=(reach_lr[0], reach_lr[1]))
    width = int(round(pitch))
    if ext.shape[1] < width + 1:
        return None
    xs = np.arange(0.0, ext.shape[1] - width + 1, pitch / CHAIN_STEPS)
    crops = [ext[:, int(round(x)) : int(round(x)) + width] for x in xs]
    guesses = wheel_model().predict(crops)
    score = np.array([g.score for g in guesses])
    total, idx = _chain(score, xs, pitch)
    if len(idx) > WHEEL_COUNTS[-1]:
        idx = _end_at_decimals(crops, idx)
    inside = (reach_lr[0] + WEAK_WHEEL_INSET * pitch, ext.shape[1] - reach_lr[1] - WEAK_WHEEL_INSET * pitch)
    idx, weak = _extend_weak(score, xs + width / 2, idx, inside)
    return ext, idx, score, xs, crops, guesses, total, width, weak


def _end_at_decimals(crops: list[np.ndarray], idx: list[int]) -> list[int]:
    """A chain longer than any counter, cut after its run of red (decimal) wheels.

    Red wheels end a counter: what the chain found beyond them is the "m3" label, a pointer or the
    window's edge. Unchanged when no red run is followed by other crops.
    """
    red = red_wheels([crops[i] for i in idx])
    last = max((i for i in range(1, len(idx)) if red[i] and not red[0]), default=None)
    if last is None or last == len(idx) - 1:
        return idx
    return idx[: last + 1]


def _extend_weak(
    score: np.ndarray, centres: np.ndarray, idx: list[int], inside: tuple[float, float]
) -> tuple[list[int], tuple[int, int]]:
    """The chain continued at each end through weak wheel-like crops inside the window.

    (indices, how many were added at the (left, right) end). A crop is added when it is the best
    within 0.75-1.3 pitches of the end (CHAIN_STEPS crops a pitch), scores at least WEAK_WHEEL_MIN,
    is a local peak, and its centre lies inside `inside` (x range of the window less an inset).
    """
    idx = list(idx)
    added = [0, 0]  # at the left, right end
    if not idx:
        return idx, (0, 0)
    lo_step, hi_step = int(round(0.75 * CHAIN_STEPS)), int(round(1.3 * CHAIN_STEPS))
    for side in (-1, 1):
        while len(idx) < WHEEL_COUNTS[-1]:
            end = idx[0] if side < 0 else idx[-1]
            window = [end + side * k for k in range(lo_step, hi_step + 1) if 0 <= end + side * k < len(score)]
            if not window:
                break
            j = max(window, key=lambda i: score[i])
            peak = score[j] == score[max(0, j - 3) : j + 4].max()
            if score[j] < WEAK_WHEEL_MIN or not peak or not inside[0] <= centres[j] <= inside[1]:
                break
            idx = [j] + idx if side < 0 else idx + [j]
            added[side > 0] += 1
    return idx, (added[0], added[1])


def _only_decimals_lost(crops: list[np.ndarray], idx: list[int], beyond: int) -> bool:
    """True when what continues the row on the right is a red wheel and the row's last one is black.

    Red wheels are decimals, so the black wheels read are the whole m3: the reading is right at
    the resolution of one m3 (the decimals are simply not read), not a wheel short.
    """
    if beyond >= len(crops):
        return False
    red = red_wheels([crops[i] for i in idx] + [crops[beyond]])
    return red[-1] and not any(red[:-1])


def _wheel_beyond(bgr: np.ndarray, lay: Layout, pitch_px: float) -> bool:
    """True when the crop one wheel beyond either end could be a wheel (abstain rather than drop it)."""
    for side in (0, 1):
        ext = list(lay.extend_px)
        ext[side] += int(round(pitch_px))
        strip = rectify(bgr, lay.candidate.quad, extend_px=(ext[0], ext[1]))
        crops = split(strip, lay.n_wheels + 1, lay.side_trim)
        if not crops:
            continue
        # Shift-averaged and without the neighbour check: a lost (often rolling, red) wheel reads
        # weakly, and dropping it gives a confident wrong reading, so any wheel-likeness counts.
        g = wheel_model().predict([crops[-1] if side == 1 else crops[0]], tta=True)[0]
        if g.score >= PARTIAL_DOUBT_CONFIDENCE:
            if side == 1 and _only_decimals_lost(crops, list(range(len(crops) - 1)), len(crops) - 1):
                continue
            if side == 1 and _unit_where_next_wheel(strip, lay.n_wheels, lay.side_trim):
                continue
            return True
        if side == 1 and _red_run_continues(crops, g):
            return True
    return False


UNIT_ENDS_ROW = True  # the unit read where a next wheel would be ends the row (False: it may be a wheel)


def _unit_where_next_wheel(strip: np.ndarray, n_wheels: int, side_trim: float) -> bool:
    """True when PP-OCR reads the unit's "m" (UNIT_MIN_PROB) in the crop one wheel past the row's last
    (the strip grown by one pitch on the right, cut into n_wheels + 1): the m³ printed beside the wheels,
    where a lost wheel would show a digit. A fixed camera's counter (SCjona `00689`: the "m" read at 0.87,
    0.83 of a pitch past the last wheel) waited as `window_may_continue` for its unit."""
    if not UNIT_ENDS_ROW:
        return False
    trim = side_trim * strip.shape[0]
    return n_wheels in _unit_places(strip, side_trim, (strip.shape[1] - 2 * trim) / (n_wheels + 1))


def _unit_places(strip: np.ndarray, side_trim: float, pitch_px: float) -> set[int]:
    """The wheels (0: the first, counted on past the row's end) on which PP-OCR reads the unit's "m" surely
    (UNIT_MIN_PROB) in the strip, cut at pitch_px after its side frame."""
    row = textrec.read_row(strip)
    if row is None or not len(row.text) == len(row.probs) == len(row.xs):
        return set()
    width, trim = strip.shape[1], side_trim * strip.shape[0]
    return {
        int(np.floor((x * width - trim) / pitch_px))
        for c, p, x in zip(row.text, row.probs, row.xs, strict=True)
        if c == "m" and p >= UNIT_MIN_PROB
    }


RED_RUN_DIGIT_CONFIDENCE = 0.9  # a red crop beyond a red last wheel showing a digit this plainly


def _red_run_continues(crops: list[np.ndarray], beyond: WheelGuess) -> bool:
    """True when the row's last wheel is red and the crop one pitch beyond it is red too and shows a digit
    plainly, however off-centre the cut (junk by the CNN's own measure): the decimal run goes on past the
    window's end. An outline of the black wheels' faces alone read 291.3 for 291.3655 this way, sure of
    every wheel (docs/ocr.md, "After round 7"). The colour test (≈ 1.5 ms) only when the digit is plain."""
    if beyond.confidence < RED_RUN_DIGIT_CONFIDENCE:
        return False
    red = red_wheels(crops)
    return len(red) >= 2 and red[-1] and red[-2]


def _same_digits(a: list[WheelGuess], b: list[WheelGuess]) -> bool:
    """True when two readings of the same wheels agree on every wheel (within half a digit)."""
    return len(a) == len(b) and all(
        abs(circ(x.position - y.position)) < 0.5 for x, y in zip(a, b, strict=True)
    )


def _contains_reading(outer: Layout, inner: Layout, min_other: float = SAME_DIGITS_MIN_WHEEL) -> bool:
    """True when inner's wheels read the same as a run of outer's, whose other wheels read surely."""
    k = inner.n_wheels
    for i in range(outer.n_wheels - k + 1):
        rest = outer.guesses[:i] + outer.guesses[i + k :]
        if (
            rest
            and _same_digits(inner.guesses, outer.guesses[i : i + k])
            and min(g.score for g in rest) >= min_other
        ):
            return True
    return False


def _far_apart(a: Candidate, b: Candidate) -> bool:
    ca, cb = a.quad.mean(axis=0), b.quad.mean(axis=0)
    width = float(np.linalg.norm(a.quad[1] - a.quad[0]))
    area_ratio = a.area_frac / max(b.area_frac, 1e-9)
    return float(np.linalg.norm(ca - cb)) > 0.8 * width and 0.4 < area_ratio < 2.5


def _choose_framed(bgr: np.ndarray, layouts: list[Layout]) -> Layout:
    """Among outlined windows: a larger one around the best reading the same holds more wheels."""
    layouts = sorted(layouts, key=lambda lay: -lay.fit)
    best = layouts[0]
    # A window nested in or around the best one is the same meter; a larger one fitting about as
    # well holds more wheels (a frame around black and red wheels beats the black ones alone).
    for other in layouts[1:]:
        if (
            not _far_apart(best.candidate, other.candidate)
            and other.candidate.area_frac > 1.2 * best.candidate.area_frac
            and (
                other.fit >= best.fit - 0.05
                or (other.fit >= best.fit - SAME_DIGITS_FIT_SLACK and _contains_reading(other, best))
            )
        ):
            best = other
    for other in layouts[1:]:
        # A second counter elsewhere in the photo: one that fits nearly as well, or a strong window
        # that fits well enough (a meter photographed beside another is often the blurrier one).
        second = other.fit >= SECOND_METER_FIT * best.fit or (
            other.candidate.score >= SECOND_METER_WINDOW_SCORE and other.fit >= SECOND_METER_MIN_FIT
        )
        if second and _far_apart(best.candidate, other.candidate):
            raise BadImage("multiple_meters", "the photo shows more than one meter; photograph one at a time")
    return best


def choose_window(bgr: np.ndarray, window: np.ndarray | None = None, boxes: list | None = None) -> Layout:
    """The counter window of the one meter in the photo; BadImage when there is none or two.

    window: corners (tl, tr, br, bl) in photo pixels that the resident aligned (guided capture) or
    that a meter's reference put there; then only that window (grown a little) is read.
    boxes: the text detector's rows of the photo, when already found.
    """
    if window is not None:
        return _choose_given(bgr, window)
    framed_all = [c for c in find_candidates(bgr) if c.score >= MIN_WINDOW_SCORE]
    # Each outline both ways up: a photo taken upside down has no EXIF to say so.
    # (A bent outline is read as no window, but frames a row of print inside it: `locate.BENT`.)
    both = [c for f in framed_all[:MAX_CANDIDATES] if f.source != BENT for c in (f, _turned(f))]
    framed = [lay for lay in (best_layout(bgr, c) for c in both) if lay is not None and lay.fit >= MIN_FIT]
    texts = prescreened_layouts(bgr, text_candidates(bgr, boxes=boxes))
    # A row inside an outlined window is a counter's; serial numbers and plates are printed on the face.
    for lay in framed:
        lay.framed = True
    for lay in texts:
        lay.framed = any(overlaps(lay.candidate, f) for f in framed_all[: 2 * MAX_CANDIDATES])
    # A printed number alone (a photo of a label, a page) is no counter: a row no outline confirms
    # must read clearly as wheels to be one.
    texts = [lay for lay in texts if lay.framed or lay.fit >= UNFRAMED_MIN_FIT]
    pool = framed + texts
    if ROTATED_TEXT and not [lay for lay in pool if lay.fit >= MIN_FIT]:
        # No row reads as wheels: the text detector finds rows of upright print best, so look again with
        # the photo turned a quarter (a photo taken sideways, its EXIF lost or never written).
        texts = [
            lay for lay in prescreened_layouts(bgr, _quarter_turned_text(bgr)) if lay.fit >= UNFRAMED_MIN_FIT
        ]
        for lay in texts:
            lay.framed = any(overlaps(lay.candidate, f) for f in framed_all[: 2 * MAX_CANDIDATES])
        pool = framed + texts
    if not [lay for lay in pool if lay.fit >= MIN_FIT]:
        return _choose_unframed(bgr)
    choices = [lay for lay in texts if lay.fit >= MIN_FIT]
    if framed:
        choices.append(_choose_framed(bgr, framed))
    best = max(choices, key=_choice_key)
    twin = next(
        (lay for lay in pool if _is_turned(best, lay) and lay.fit >= best.fit - RIVAL_FIT_MARGIN), None
    )
    if twin is not None and _red_leads(best.crops) and not _red_leads(twin.crops):
        best = twin  # red (decimal) wheels end a counter: the other way up is it
    chosen = _settle(bgr, best)
    chosen.framed = best.framed
    chosen.rivals = _settled_rivals(bgr, chosen, _rivals(best, pool))
    first = _read_first(chosen) if SWAP_SETTLED else chosen
    if not UNIT_ORIENTS:
        return first
    return _unit_not_a_wheel(_orient_by_unit(bgr, first))


# The unit printed beside a counter (m³) says which way up its row is (see _orient_by_unit).
UNIT_ORIENTS = True
UNIT_MIN_PROB = 0.5  # the "m" must be read at least this surely


def _reads_unit(bgr: np.ndarray, lay: Layout) -> bool:
    """True when PP-OCR reads the unit's "m" in the row widened SECOND_READER_REACH pitches each way."""
    row = _widened_view(bgr, lay)
    # one probability per character (the recogniser's labels are single characters)
    return row is not None and any(
        c == "m" and p >= UNIT_MIN_PROB for c, p in zip(row.text, row.probs, strict=False)
    )


def _unit_not_a_wheel(lay: Layout) -> Layout:
    """The row without an end wheel that is the unit: a window grown (by half a pitch or more) onto the
    m³ printed beside the wheels reads it as one more wheel (the SCjona counter, `00688` read `006889`
    upside down and sideways). When PP-OCR reads an "m" surely (UNIT_MIN_PROB) on the grown end's
    wheel, that wheel is dropped (never below the fewest wheels a counter has).
    """
    n = lay.n_wheels
    grown = [lay.extend_px[0] >= 0.5 * lay.pitch_px, lay.extend_px[1] >= 0.5 * lay.pitch_px]
    if n <= WHEEL_COUNTS[0] or not any(grown):
        return lay
    at = _unit_places(lay.strip, lay.side_trim, lay.pitch_px)
    if not at:
        return lay
    width, pitch = lay.strip.shape[1], lay.pitch_px
    cut_px = int(round(pitch))
    left, right = lay.extend_px
    weak_l, weak_r = lay.weak_sides
    partial, sides = lay.maybe_partial, lay.beyond_sides
    if grown[1] and n - 1 in at:
        keep, strip, ext = slice(0, n - 1), lay.strip[:, : width - cut_px], (left, right - cut_px)
        weak = (weak_l, max(0, weak_r - 1))
        # The row ends at its unit: what the window saw beyond the right end was the unit itself (the
        # SCjona counter small in a scene: a chain of its five wheels and the "m" waited as
        # window_may_continue once the "m" was dropped). A doubt about the left end stays.
        if UNIT_ENDS_ROW and sides == (False, True):
            partial, sides = False, (False, False)
    elif grown[0] and 0 in at:
        keep, strip, ext = slice(1, n), lay.strip[:, cut_px:], (left - cut_px, right)
        weak = (max(0, weak_l - 1), weak_r)
    else:
        return lay
    guesses = lay.guesses[keep]
    return replace(
        lay,
        strip=strip,
        n_wheels=n - 1,
        crops=lay.crops[keep],
        guesses=guesses,
        fit=_fit(guesses),
        extend_px=ext,
        weak_sides=weak,
        maybe_partial=partial,
        beyond_sides=sides,
    )


def _orient_by_unit(bgr: np.ndarray, chosen: Layout) -> Layout:
    """The chosen row or its turned twin (a rival), whichever reads the unit beside it, the other no rival.

    A water or gas counter's unit, m³, is printed beside its wheels. PP-OCR's recogniser, trained on
    upright print, reads its "m" in the row read the right way up and never in the row turned over
    (upside down it is no letter). On the dev photos, the widened row read the right way up showed an
    "m" in 13 of 38 (14 upside down), turned over in none of 76. When both or neither
    read one, the pair stays as it was (a rival: orientation_uncertain).
    """
    twin = next((r for r in chosen.rivals if r.turned and _is_turned(chosen, r)), None)
    if twin is None:
        return chosen
    here, there = _reads_unit(bgr, chosen), _reads_unit(bgr, twin)
    others = [r for r in chosen.rivals if r is not twin]
    if here and not there:
        chosen.rivals = others
        return chosen
    if there and not here:
        for r in others:
            r.turned = _is_turned(twin, r)
        twin.turned, twin.rivals = False, others
        return twin
    return chosen


SWAP_SETTLED = True  # a rival that settles better than the choice is read first (False: as chosen)


def _choice_key(lay: Layout) -> float:
    """How well a row reads as the counter: its fit, an outline and reading upright counted."""
    return lay.fit + FRAME_BONUS * lay.framed + UPRIGHT_BONUS * _upright(lay)


ROTATED_TEXT = True  # look for text rows in the photo turned a quarter when none reads as wheels


def _quarter_turned_text(bgr: np.ndarray) -> list[Candidate]:
    """Text rows found in the photo turned a quarter clockwise, their corners in the photo's pixels."""
    h = bgr.shape[0]
    turned = np.ascontiguousarray(np.rot90(bgr, -1))  # turned[y', x'] = bgr[h - 1 - x', y']
    out = []
    for c in text_candidates(turned):
        xq, yq = c.quad[:, 0], c.quad[:, 1]
        c.quad = np.stack([yq, h - 1 - xq], axis=1).astype(np.float32)
        out.append(c)
    return out


# A sideways row whose turned twin is still its rival is shown the way its zeros lead (both in review).
ZEROS_FIRST = True


def _zeros_twin(chosen: Layout) -> Layout | None:
    """The chosen row's turned twin among its rivals when neither reads upright (a sideways photo, or
    one the reader turned), one of the two starts with zeros and the other ends with them, and no
    red (decimal) wheel says which way up the row is; else None.

    Which way up such a pair is, only a person can tell (orientation_uncertain: both stay in review),
    but which reading to show first has an answer: a household counter reading ...00 without leading
    zeros is rare (one reading in a hundred ends in 00; most meters start with two zeros). So a
    sideways 98900 shows its twin 00686 first. Where one of the pair reads upright, the photo's own
    way up decides (most photos are upright), as it does for readings drawn at random (renders).
    """
    if _upright(chosen):
        return None
    for r in chosen.rivals:
        if r.turned and _is_turned(chosen, r) and not _upright(r):
            pair = (_zeros_end(chosen) and _zeros_lead(r)) or (_zeros_lead(chosen) and _zeros_end(r))
            return r if pair and not any(red_wheels(chosen.crops)) else None
    return None


def _read_first(chosen: Layout) -> Layout:
    """The row to read first once rows are settled: a rival that settled better than the choice (by the
    choice's own measure, outlines and uprightness counted) is read, the choice kept as its rival.

    The choice was made on rows as first cut; a counter's outline can settle far better than it was
    cut (a serial number printed beside it was chosen, its outlined counter settled as well). Only
    which reading is shown first changes: the former choice always stays a rival, so such a reading
    still waits for a person.
    """
    top = max(chosen.rivals, key=_choice_key, default=None)
    twin = _zeros_twin(chosen) if ZEROS_FIRST else None
    if twin is not None and _zeros_lead(twin):
        top = twin  # its zeros lead: shown first, whatever its fit or uprightness
    elif top is None or top is twin or _choice_key(top) <= _choice_key(chosen):
        return chosen  # (the chosen row's zeros lead: not swapped for its twin)
    others = [r for r in chosen.rivals if r is not top]
    for r in others:
        r.turned = _is_turned(top, r)
    chosen.turned = top.turned
    chosen.rivals = []
    top.turned = False
    top.rivals = [chosen, *others]
    return top


def _settled_rivals(bgr: np.ndarray, chosen: Layout, rivals: list[Layout]) -> list[Layout]:
    """The rivals that still read nearly as well once each is settled as the chosen row was.

    Rivals are found by comparing rows as first cut; the chosen row is then settled (a chain of wheel
    centres, a grown window), which often lifts its fit by 0.2-0.4. Each rival is settled the same
    way and judged against the settled choice: a row that only looked close because the choice was
    not yet settled stops competing. A rival only ever drops out here; none is added.
    """
    margin = RIVAL_FIT_MARGIN if chosen.framed else UNFRAMED_RIVAL_MARGIN
    kept = []
    for r in rivals:
        s = _settle(bgr, r)
        if s.fit >= chosen.fit - margin:
            s.turned, s.framed = r.turned, r.framed
            kept.append(s)
    return kept


PRESCREEN_KEEP = 6  # text rows (row x direction) read in full after the quick look
PRESCREEN_TRIM = 0.09  # side frame share of the height in the quick look's cuts


def prescreen(
    bgr: np.ndarray, cands: list[Candidate], keep: int = PRESCREEN_KEEP, read: dict[int, Known] | None = None
) -> list[Candidate]:
    """The candidates whose quick cuts read most like wheels: a few wheel counts, one side trim.

    A detected text row ends near its outer glyphs, so only wheel counts giving wheels 0.4-1.05
    heights wide are cut; one batched recogniser call for all rows. read: filled with each kept
    candidate's cuts as read (by id(candidate)), for best_layout to reuse.
    """
    if len(cands) <= keep:
        return cands
    cuts, owner, counts = [], [], []
    for k, c in enumerate(cands):
        strip = rectify(bgr, c.quad)
        h, w = strip.shape[:2]
        for n in WHEEL_COUNTS:
            pitch = (w - 2 * PRESCREEN_TRIM * h) / n
            if 0.3 * h <= pitch <= 1.3 * h:
                cuts.append(split(strip, n, PRESCREEN_TRIM))
                owner.append(k)
                counts.append(n)
    if not cuts:
        return []
    guesses = wheel_model().predict([crop for cut in cuts for crop in cut])
    best = np.zeros(len(cands))
    by_cand: dict[int, Known] = {}
    i = 0
    for cut, k, n in zip(cuts, owner, counts, strict=True):
        g = guesses[i : i + len(cut)]
        best[k] = max(best[k], _fit(g))
        if len(cut) == n:
            by_cand.setdefault(k, {})[(n, PRESCREEN_TRIM)] = g
        i += len(cut)
    order = [int(k) for k in np.argsort(-best)[:keep] if best[k] > 0]
    if read is not None:
        read.update({id(cands[k]): by_cand.get(k, {}) for k in order})
    return [cands[k] for k in order]


def prescreened_layouts(bgr: np.ndarray, cands: list[Candidate]) -> list[Layout]:
    """best_layout of each candidate the prescreen keeps, its quick look's cuts not read twice (the
    prescreen cuts the same strip at the coarse step's trim: the same crops, the same guesses)."""
    read: dict[int, Known] = {}
    kept = prescreen(bgr, cands, read=read if PRESCREEN_TRIM == QUICK_TRIM else None)
    return [lay for lay in (best_layout(bgr, c, read.get(id(c))) for c in kept) if lay is not None]


def _rivals(best: Layout, pool: list[Layout]) -> list[Layout]:
    """Other rows that read nearly as well as wheels: another place, or the same row turned over."""
    out = []

    @cache
    def best_ends_red() -> bool:  # the colour test once, and only when a row may be smaller print
        return _decimals(red_wheels(best.crops)) > 0

    for lay in pool:
        if lay is best or lay.fit < MIN_FIT:
            continue
        same_place = overlaps(best.candidate, lay.candidate)
        turned = _is_turned(best, lay)
        margin = RIVAL_FIT_MARGIN if best.framed else UNFRAMED_RIVAL_MARGIN
        if turned and _red_leads(lay.crops) and not _red_leads(best.crops):
            continue  # red (decimal) wheels end a counter: turned over, they would lead it
        if (
            turned
            and _upright(best)
            and _zeros_lead(best)
            and _zeros_end(lay)
            and not any(red_wheels(best.crops))
        ):
            # Most photos are upright and most counters show leading zeros: with both for the chosen
            # reading, its turned twin (zeros at the end) is not a rival. When they disagree (an
            # upright 90000), only a person can tell: the twin stays a rival.
            continue
        if (
            SMALL_PRINT
            and not same_place
            and _smaller_print(best, lay)
            and best_ends_red()
            and _decimals(red_wheels(lay.crops)) == 0
        ):
            continue  # a label or serial number beside a counter that ends in red decimal wheels
        if (not same_place or turned) and lay.fit >= best.fit - margin:
            lay.turned = turned
            out.append(lay)
    return sorted(out, key=lambda lay: -lay.fit)


SMALL_PRINT = True
SMALL_PRINT_RATIO = 0.75  # a row this much lower than the counter's (found the same way) is smaller print


def _height(c: Candidate) -> float:
    """A window's height across its row (photo pixels): the mean of its two short sides."""
    q = c.quad
    return float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2


def _smaller_print(counter: Layout, other: Layout) -> bool:
    """True when other's row is lower than SMALL_PRINT_RATIO of counter's, both found the same way (a text
    row's box and an outline differ in height). Beside a row that ends in red decimal wheels (black, then
    red), smaller print that does not end so itself is a label or serial number, not a second counter."""
    if counter.candidate.source != other.candidate.source:
        return False
    return _height(other.candidate) < SMALL_PRINT_RATIO * _height(counter.candidate)


def _turned(c: Candidate) -> Candidate:
    """The same window read the other way up (corners turned half a turn)."""
    return Candidate(np.roll(c.quad, 2, axis=0), c.score, c.aspect, c.area_frac, c.source)


UPRIGHT_BONUS = 0.1  # most photos are taken upright: a row read left to right needs a little less fit


# False while a photo turned a quarter by the reader is read (`_read_turned`): which way up it now is,
# nothing says, so no row counts as upright.
_UPRIGHT_KNOWN: ContextVar[bool] = ContextVar("upright_known", default=True)


def _upright(lay: Layout) -> bool:
    """True when the row reads left to right in the photo (within 60 degrees) and the photo's way up
    is known (as taken, not turned by the reader)."""
    return _UPRIGHT_KNOWN.get() and float(_direction(lay.candidate)[0]) > 0.5


LEADING_ZEROS = 2  # zeros that start a counter far from its full range (most meters); turned, they end it


def _digits(lay: Layout) -> str:
    return "".join(str(int(round(g.position)) % 10) for g in lay.guesses)


def _zeros_lead(lay: Layout) -> bool:
    """True when the row starts with LEADING_ZEROS zeros (and does not end with them)."""
    d = _digits(lay)
    return d.startswith("0" * LEADING_ZEROS) and not d.endswith("0" * LEADING_ZEROS)


def _zeros_end(lay: Layout) -> bool:
    """True when the row ends with LEADING_ZEROS zeros (and does not start with them)."""
    d = _digits(lay)
    return d.endswith("0" * LEADING_ZEROS) and not d.startswith("0" * LEADING_ZEROS)


def _is_turned(a: Layout, b: Layout) -> bool:
    """True when b is a's row read the other way up."""
    return (
        a is not b
        and overlaps(a.candidate, b.candidate)
        and float(np.dot(_direction(a.candidate), _direction(b.candidate))) < -0.5
    )


def _red_leads(crops: list[np.ndarray]) -> bool:
    """True when a row starts with red wheels and ends with black ones (a counter turned over)."""
    red = red_wheels(crops)
    return len(red) >= 3 and red[0] and not red[-1]


def _direction(c: Candidate) -> np.ndarray:
    """Unit vector along the window's reading direction (tl -> tr)."""
    v = (c.quad[1] - c.quad[0]) + (c.quad[2] - c.quad[3])
    return v / max(float(np.linalg.norm(v)), 1e-9)


# A row the text detector finds around a given window must not reach into it from outside: the resident
# framed the counter, and a serial number printed just above it can reach into the frame's margin.
# Validation: a counter of real wheels whose crisp serial lay half inside its guided frame (its centre on
# the frame's edge) was read and accepted instead of the counter. Either test alone fails elsewhere: the
# share inside alone (0.75) lost a counter whose detected box (grown around its glyphs) stood out of a
# tight frame on both sides; the offset alone dropped counters in a frame held too tall.
GIVEN_ROW_INSIDE = 0.75  # a row with less of its box inside the frame than this...
GIVEN_ROW_OFFSET = 0.5  # ...whose centre lies this far off the frame's centre line (1 = an edge) is outside


def _offset_across(row: np.ndarray, window: np.ndarray) -> float:
    """How far a row's centre lies from a window's centre line, across it: 0 on the line, 1 on the top or
    bottom edge (corners tl, tr, br, bl; photo pixels)."""
    top, bottom = (window[0] + window[1]) / 2, (window[3] + window[2]) / 2
    across = bottom - top
    height2 = float(np.dot(across, across))
    if height2 <= 0:
        return float("inf")
    # (projection of the centre's offset on `across`) / (half the height), both over |across|
    return 2 * abs(float(np.dot(row.mean(axis=0) - (top + bottom) / 2, across))) / height2


def _reaches_in(row: np.ndarray, window: np.ndarray) -> bool:
    """True when a row stands out of a given window on one side: print beside the framed counter."""
    return share_inside(row, window) < GIVEN_ROW_INSIDE and _offset_across(row, window) > GIVEN_ROW_OFFSET


def _choose_given(bgr: np.ndarray, window: np.ndarray) -> Layout:
    """The window the resident aligned or the reference placed, taken as a region to search.

    A guided frame is held loosely (tilted, too tall, a little off): the rows the text detector
    finds inside it (run on the region alone, so a small counter is seen at a higher resolution)
    compete with the window itself; the best fit wins, with the chain finding its wheels.
    """
    quad = np.asarray(window, np.float32).reshape(4, 2)
    given = Candidate(quad, 1.0, 0.0, 0.0, source="given")
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    pad_x, pad_y = (x1 - x0) // 10, (y1 - y0) // 10
    h, w = bgr.shape[:2]
    x0, y0 = max(0, x0 - pad_x), max(0, y0 - pad_y)
    x1, y1 = min(w, x1 + pad_x), min(h, y1 + pad_y)
    cands = [given]
    if x1 - x0 >= 32 and y1 - y0 >= 16:
        for c in text_candidates(np.ascontiguousarray(bgr[y0:y1, x0:x1]), both_ways=False):
            c.quad = c.quad + np.array([x0, y0], np.float32)
            c.source = "given"
            if overlaps(c, given) and not _reaches_in(c.quad, quad):
                cands.append(c)
    layouts = prescreened_layouts(bgr, cands)
    layouts = [lay for lay in layouts if lay.fit >= MIN_FIT]
    if not layouts:
        raise BadImage("no_meter", "no wheels found in the given window")
    return _settle(bgr, max(layouts, key=lambda lay: lay.fit))


def _settle(bgr: np.ndarray, best: Layout) -> Layout:
    """The chosen window's wheels: a chain of wheel centres when it fits better, else equal cuts grown."""
    chained = chain_layout(bgr, best)
    # Dim real wheels read weakly one by one: a chain of the sure ones must not drop wheels that
    # the equal cut reads as wheels, however weakly, around the same digits (often the leading ones).
    fuller = (
        chained is not None
        and best.n_wheels > chained.n_wheels
        and _contains_reading(best, chained, KEEP_WHEEL_MIN)
    )
    if (
        chained is not None
        and not fuller
        and (
            chained.fit >= best.fit + CHAIN_BETTER_FIT
            or (chained.n_wheels > best.n_wheels and _contains_reading(chained, best))
        )
    ):
        return chained
    grown = extend_layout(bgr, best)
    if chained is not None and _chain_doubts_ends(chained, grown):
        grown.maybe_partial = True
    return grown


GAP_DOUBT = True  # outlines and given frames doubt an end only for a sure wheel past a gap (False: never)


def _chain_doubts_ends(chained: Layout, grown: Layout) -> bool:
    """True when the chain of wheel centres saw a wheel-like crop beyond the grown cut's wheels.

    Rows of the text detector end at their outer glyphs: the chain slides past both ends, the equal
    cut looks one pitch beyond once, and a half-turned last wheel the detector left out reads weakly
    there (an 8-wheel counter read as its first 7, accepted). Beyond an outline lies its frame, and a
    given frame holds print: for those only a wheel read surely past a gap counts (`gap_sides`: a
    last wheel in a box of its own, where the equal cut's one look beyond lands in the gap). Red
    wheels end a counter, so beyond a red last wheel (the "m3" after the decimals) is no lost wheel,
    and a counter of the most wheels cannot continue.

    Two ways the chain says so: holding the same wheels, it saw something wheel-like a pitch beyond
    them; or it holds more wheels than the cut that was kept (it was not taken because it fitted no
    better and its extra wheel read weakly: the lost wheel itself). Where the cut's digits sit in
    the chain tells at which end the extra wheels are; a chain that reads the cut's digits nowhere
    doubts both ends.
    """
    if grown.n_wheels >= WHEEL_COUNTS[-1] or chained.n_wheels < grown.n_wheels:
        return False
    if grown.candidate.source != "text":
        # An outline or a given frame: only a wheel read surely past a gap beyond the same wheels (an
        # outline around the others' box, a frame holding it: the equal cut looks into the gap).
        if not GAP_DOUBT or not _same_digits(chained.guesses, grown.guesses):
            return False
        left, right = chained.gap_sides
        return left or (right and not red_wheels(grown.crops)[-1])
    red_last = red_wheels(grown.crops)[-1]
    if chained.n_wheels > grown.n_wheels:
        at = _run_at(chained.guesses, grown.guesses)
        if at is None:
            return True
        return at > 0 or (chained.n_wheels - grown.n_wheels - at > 0 and not red_last)
    if not _same_digits(chained.guesses, grown.guesses):
        return False
    left, right = chained.beyond_sides
    return left or (right and not red_last)


def _run_at(outer: list[WheelGuess], inner: list[WheelGuess]) -> int | None:
    """Where inner's wheels read the same as a run of outer's (the first such index), else None."""
    k = len(inner)
    return next((i for i in range(len(outer) - k + 1) if _same_digits(inner, outer[i : i + k])), None)


def _choose_unframed(bgr: np.ndarray) -> Layout:
    """The fallback when no framed window holds wheels: rows of glyphs (locate.find_digit_rows).

    Such a reading always goes to review (`window_not_outlined`): a serial number also makes a row
    of glyphs, and no second meter can be told apart without outlines.
    """
    rows = find_digit_rows(bgr)[:MAX_CANDIDATES]
    layouts = [lay for lay in (best_layout(bgr, c) for c in rows) if lay is not None and lay.fit >= MIN_FIT]
    if not layouts:
        raise BadImage("no_meter", "no counter window with wheels found in the photo")
    best = _settle(bgr, max(layouts, key=lambda lay: lay.fit))
    best.outline_guessed = True
    return best


def _dial_wheel_residual(last_wheel: float, fraction_m3: float) -> float:
    """How far (in digits) the last wheel stands from where the dials' fraction puts it."""
    expected = (round(last_wheel - fraction_m3) % 10) + fraction_m3
    return abs(circ(last_wheel - expected))


MAX_DECIMALS = 4  # decimal (red) wheels are a trailing run of at most this many


def _decimals(red: list[bool]) -> int:
    """Red wheels at the right are decimals; count the trailing run (at most 4).

    Every wheel red is a tinted photo (or a red print row), not decimals.
    """
    if not red or all(red):
        return 0
    n = 0
    for r in reversed(red):
        if not r:
            break
        n += 1
    # Thin red digits under glare can miss the colour test: decimals run from the first red wheel
    # among the last four when at least two thirds of them, the last one included, are red.
    first = next((i for i in range(max(1, len(red) - MAX_DECIMALS), len(red)) if red[i]), None)
    if red[-1] and first is not None and 3 * sum(red[first:]) >= 2 * (len(red) - first):
        n = max(n, len(red) - first)
    return min(n, MAX_DECIMALS, len(red) - 1)


def decimal_doubt(ev: RedEvidence, decimals: int) -> bool:
    """The decimal point is not settled by the wheels' colours (a wrong one is a 10-1000x wrong bill).

    Among the last four wheels (decimals are a trailing run of at most four): a wheel whose colour
    is part way to red (unless `_side_by_redness` puts it on the side of the point it is on), a red
    wheel left out of the decimal run, or a decimal run whose first wheel is only just red (marginal,
    unless `_side_by_redness` puts it among the red ones). A row all red is a tinted photo.
    """
    n = len(ev.red)
    if n == 0 or all(ev.red):
        return False
    tail = range(max(1, n - MAX_DECIMALS), n)
    if any(ev.red[i] for i in tail if i < n - decimals):
        return True
    if MARGINAL_DOUBT and 0 < decimals < n and len(ev.marginal) == n:
        # The decimal run's first wheel decides where the point is: red only just past a mark, the point
        # may as well be one wheel to the right (a dev photo re-encoded read 06345.720 for 063457.20).
        first = n - decimals
        if ev.marginal[first] and not _side_by_redness(ev, decimals, first):
            return True
    return any(ev.doubtful[i] and not _side_by_redness(ev, decimals, i) for i in tail)


MARGINAL_DOUBT = True  # a decimal run whose first wheel is only just red leaves the point in doubt


DOUBT_BY_GAP = True  # a wheel part way to red is judged against the row's own black and red wheels
REDNESS_GAP_MIN = 15.0  # the decimal run's least red wheel this much redder than the reddest black one
REDNESS_SIDE = 1 / 3  # ...and the wheel in doubt within this share of that gap of its side


def _side_by_redness(ev: RedEvidence, decimals: int, i: int) -> bool:
    """True when wheel i, part way to red, is plainly on the side of the decimal point it was put on.

    Colour bleeding from the red wheel beside it, or a faded red wheel, gives a wheel some redness; the
    row's own wheels say how much is black and how much red. Where the decimal run's least red (sure)
    wheel is at least REDNESS_GAP_MIN redder at its centre than the reddest (sure) black wheel, a wheel
    in the first third of that gap is black and one in the last third red; a wheel so judged that lies
    where the point already puts it settles nothing more. Everything else stays in doubt.
    """
    n = len(ev.red)
    if not DOUBT_BY_GAP or decimals == 0 or len(ev.redness) != n:
        return False
    sure = [not d and not (ev.marginal and ev.marginal[j]) for j, d in enumerate(ev.doubtful)]
    blacks = [ev.redness[j] for j in range(n - decimals) if sure[j] and not ev.red[j]]
    reds = [ev.redness[j] for j in range(n - decimals, n) if sure[j] and ev.red[j]]
    if not blacks or not reds:
        return False
    lo, hi = max(blacks), min(reds)
    if hi - lo < REDNESS_GAP_MIN:
        return False
    share = (ev.redness[i] - lo) / (hi - lo)
    return share <= REDNESS_SIDE if i < n - decimals else share >= 1 - REDNESS_SIDE


def _format(digits: list[int], decimals: int) -> tuple[str, float]:
    s = "".join(str(d) for d in digits)
    whole = s[: len(s) - decimals]
    reading = whole + ("." + s[len(s) - decimals :] if decimals else "")
    return reading, int(s) / 10**decimals


def review_reason(
    consistent: bool, layout: Layout, margin: float, wheels: list[dict], agreed: bool = False
) -> str | None:
    """Why a reading must wait for a person (None: it may be stored), the first reason that holds.

    agreed: a second reader read the row's very digits (`second_opinion`); it stands in for
    the wheels' own confidence, never for the window, the row or the carry.
    """
    if not consistent:
        return "wheels_disagree_with_carry"
    if layout.outline_guessed:
        return "window_not_outlined"
    if any(r.turned for r in layout.rivals):
        return "orientation_uncertain"
    if layout.rivals:
        return "another_row_reads_as_wheels"
    if margin < 0.1:
        return "wheel_count_uncertain"
    if layout.maybe_partial:
        return "window_may_continue"
    if layout.weak_ends:
        return "low_confidence"  # wheels too weak to link were added at an end of the chain
    still = [w["confidence"] for w in wheels if not (agreed and not w["rolling"])]
    if min(still, default=1.0) < REVIEW_CONFIDENCE:
        return "low_confidence"
    # Every confident wrong reading on the calibration renders had a rolling wheel as its weakest:
    # half of one digit over half of the next is where the recogniser errs (3/5, 6/0).
    # (The second reader reads a rolling wheel as whichever digit shows more: it never stands in here.)
    if min((w["confidence"] for w in wheels if w["rolling"]), default=1.0) < ROLLING_REVIEW_CONFIDENCE:
        return "rolling_wheel_unsure"
    return None


SECOND_READER_MIN_PROB = 0.5  # each digit PP-OCR's recogniser reads must be its more likely reading
SECOND_READER_REACH = 2.0  # pitches the widened view reaches beyond each end: a wheel beyond a divider


@dataclass(frozen=True)
class SecondOpinion:
    """What PP-OCR's recogniser made of a row, against the wheels' digits (`second_opinion`)."""

    text: str | None  # what it read on the row as cut; None when it is not installed
    agrees: bool = False  # both views read exactly the wheels' digits, each surely
    sure_lead: int = 0  # leading wheels both views read alike, each surely (len(digits) when agrees)
    # per wheel, where the views line up with the wheels (as many digits): (the digit they read, or None
    # when they differ, and the lower probability); empty when no view lines up
    per_wheel: tuple[tuple[int | None, float], ...] = ()


# Where a digit the second reader read lies, in wheels from the first wheel's left edge (wheel i spans
# [i, i + 1)). CTC places a character only to a time step (8 input pixels: a third to a half of a small
# wheel), so digits are matched to wheels in order, and places only check the match loosely and tell
# what an extra digit at an end is: one in the band this far either side of the wheels' outer ends is
# the window's frame (PP-OCR reads a frame's edge as "1"); one further out, read surely, a wheel lost
# beyond that end.
FRAME_BAND = 0.2
# ...a "1" (how PP-OCR reads a frame's edge) this far: CTC places it to a third of a small wheel, and a
# frame read at 0.22 wheels out (a dev photo re-encoded) voided the sure lead of five black wheels read
# alike by both readers. A lost wheel's digit lies about half a wheel out.
FRAME_ONE_BAND = 0.3
PLACE_SLACK = 0.9  # a digit matched to wheel i lies within this of its centre (i + 0.5)
SECOND_CONFIRM_PROB = 0.7  # a wheel the CNN read unsurely is confirmed only by digits read this surely


@dataclass(frozen=True)
class _Aligned:
    """One view's digits matched to the wheels (`_align`)."""

    chars: tuple[tuple[str, float] | None, ...]  # per wheel: (digit, probability), None where none is read
    lined_up: bool  # every wheel has its digit (the view read as many, once any frame is set aside)
    beyond: tuple[bool, bool]  # a digit read surely beyond the (first, last) wheel


UNSURE_OUTSIDE_IGNORED = True  # the second reader sets aside digits read unsurely outside the row
OUTSIDE_ROW = 0.5  # wheels beyond an end past which an unsure digit is set aside (half a wheel out)


def _frame_band(char: str) -> float:
    """How far out of the wheels (in wheels) a digit read at an end may be the window's frame."""
    return FRAME_ONE_BAND if char == "1" else FRAME_BAND


def _align(read: textrec.RowText, n_wheels: int, to_wheels) -> _Aligned:
    """Match read's digits to n_wheels wheels in order; to_wheels maps a character's place (a fraction
    of the view's width) to wheel units. Non-digits (a frame, a decimal comma, "m3") are passed over.

    More digits than wheels: the extra ones must come off the ends (before the first wheel's centre,
    after the last one's), and the split whose kept digits lie nearest their wheels is taken; each
    extra digit is the frame (within `_frame_band` of the end) or, read surely further out, a lost wheel.
    As many: digit i is wheel i's, each within PLACE_SLACK of its wheel's centre (else nothing is
    matched). Fewer (a rolling wheel, or a worn "0" read as a letter): each digit goes to the wheel it
    was read on, one to a wheel, and the view is not lined up.
    """
    if not len(read.text) == len(read.probs) == len(read.xs):
        return _Aligned((None,) * n_wheels, False, (False, False))  # no places: nothing can be matched
    digits = [
        (c, p, to_wheels(x))
        for c, p, x in zip(read.text, read.probs, read.xs, strict=True)
        if textrec.is_digit(c)
    ]
    if UNSURE_OUTSIDE_IGNORED:
        # A digit read unsurely wholly outside the row (a unit's "3", a screw head) is none of its wheels.
        digits = [
            d
            for d in digits
            if d[1] >= SECOND_READER_MIN_PROB or -OUTSIDE_ROW <= d[2] <= n_wheels + OUTSIDE_ROW
        ]
    extra = len(digits) - n_wheels
    beyond = [False, False]
    if extra > 0:
        best: tuple[float, int] | None = None
        for left in range(extra + 1):
            right = extra - left
            kept = digits[left : len(digits) - right]
            dropped_ok = all(u < 0.5 for _, _, u in digits[:left]) and all(
                u > n_wheels - 0.5 for _, _, u in digits[len(digits) - right :]
            )
            if dropped_ok:
                cost = sum(abs(u - (i + 0.5)) for i, (_, _, u) in enumerate(kept))
                if best is None or cost < best[0]:
                    best = (cost, left)
        if best is None:
            return _Aligned((None,) * n_wheels, False, (False, False))
        left = best[1]
        right = extra - left
        for c, p, u in digits[:left]:
            beyond[0] |= u < -_frame_band(c) and p >= SECOND_READER_MIN_PROB
        for c, p, u in digits[len(digits) - right :]:
            beyond[1] |= u > n_wheels + _frame_band(c) and p >= SECOND_READER_MIN_PROB
        digits = digits[left : len(digits) - right]
    chars: list[tuple[str, float] | None] = [None] * n_wheels
    if extra < 0:
        # Fewer digits than wheels: each goes to the wheel it was read on, one to a wheel, in order.
        at = [int(np.floor(u)) for _, _, u in digits]
        if any(not 0 <= i < n_wheels for i in at) or any(b <= a for a, b in zip(at, at[1:], strict=False)):
            return _Aligned(tuple(chars), False, (beyond[0], beyond[1]))
        for i, (c, p, _) in zip(at, digits, strict=True):
            chars[i] = (c, p)
        return _Aligned(tuple(chars), False, (beyond[0], beyond[1]))
    for i, (c, p, u) in enumerate(digits):
        if abs(u - (i + 0.5)) > PLACE_SLACK:
            return _Aligned((None,) * n_wheels, False, (beyond[0], beyond[1]))
        chars[i] = (c, p)
    return _Aligned(tuple(chars), True, (beyond[0], beyond[1]))


def _reach_px(layout: Layout) -> int:
    """How far (strip pixels) the second reader's widened view reaches beyond each end of the row."""
    return int(round(SECOND_READER_REACH * layout.pitch_px))


def _widened_view(bgr: np.ndarray, layout: Layout) -> textrec.RowText | None:
    """PP-OCR's reading of the row widened _reach_px at each end (past a divider, onto a unit label)."""
    reach = _reach_px(layout)
    left, right = layout.extend_px
    return textrec.read_row(rectify(bgr, layout.candidate.quad, extend_px=(left + reach, right + reach)))


def second_opinion(
    bgr: np.ndarray, layout: Layout, digits: list[int], confidences: list[float] | None = None
) -> SecondOpinion:
    """Ask PP-OCR's recogniser to read the row, and compare with the wheels' digits.

    It reads the row twice: as the wheels were cut, and widened by SECOND_READER_REACH pitches at each
    end. Each view's digits are matched to the wheels (`_align`: in order, the window's frame at an end
    — often read as a "1" — set aside by its place). To agree, both views must line up and read every
    wheel's digit, each surely (SECOND_READER_MIN_PROB; SECOND_CONFIRM_PROB where the wheel's own
    confidence, from confidences, is under REVIEW_CONFIDENCE), and the widened view no digit beyond
    an end (a row that lost wheels at an end, or a wheel beyond a divider).

    The sure lead: how many leading wheels both views read as the wheels' digits, each so surely, when
    the widened view reads nothing before the first wheel (0 otherwise). The black wheels of a row whose
    only disagreement is a decimal wheel (or a rolling last wheel neither reads) are confirmed this way
    (`_sure_whole_m3`). per_wheel: the digit both views read at each wheel (None where they differ or
    one read none there) and the lower probability.
    """
    row = textrec.read_row(layout.strip)
    if row is None:
        return SecondOpinion(None)
    want = "".join(str(d) for d in digits)
    n = len(want)
    reach = _reach_px(layout)
    wide = _widened_view(bgr, layout)
    if wide is None:
        return SecondOpinion(row.text)
    width = layout.strip.shape[1]
    trim = layout.side_trim * layout.strip.shape[0]
    pitch = layout.pitch_px
    views = (
        _align(row, n, lambda x: (x * width - trim) / pitch),
        _align(wide, n, lambda x: (x * (width + 2 * reach) - reach - trim) / pitch),
    )
    conf = confidences if confidences is not None and len(confidences) == n else [1.0] * n
    bar = [SECOND_READER_MIN_PROB if c >= REVIEW_CONFIDENCE else SECOND_CONFIRM_PROB for c in conf]
    sure = [
        all((ch := v.chars[i]) is not None and ch[0] == want[i] and ch[1] >= bar[i] for v in views)
        for i in range(n)
    ]
    agrees = all(v.lined_up for v in views) and all(sure) and not any(views[1].beyond)
    lead = 0 if views[1].beyond[0] else next((i for i, ok in enumerate(sure) if not ok), n)
    per_wheel: list[tuple[int | None, float]] = []
    if any(ch is not None for v in views for ch in v.chars):
        for a, b in zip(views[0].chars, views[1].chars, strict=True):
            if a is not None and b is not None and a[0] == b[0]:
                per_wheel.append((int(a[0]), min(a[1], b[1])))
            else:
                per_wheel.append((None, 0.0))
    return SecondOpinion(row.text, agrees, lead, tuple(per_wheel))


SECOND_OVER_WHEEL = 0.9  # a still, unsure wheel is read as the second reader's digit when it is this sure


def _second_digits(digits: list[int], wheels: list[dict], op: SecondOpinion) -> list[int]:
    """The reading's digits with each still wheel read unsurely (< REVIEW_CONFIDENCE) taken from the
    second reader where it is sure of another digit (both of its views, where both line up).

    Only for a reading that goes to review anyway: it makes the first reading shown to the person a
    better guess (a dim 7 the CNN read as 1 at 0.65, the recogniser as 7 at 0.99). A rolling wheel keeps
    the CNN's digit (the carry rule reads it; the recogniser reads whichever digit shows more).
    """
    if len(op.per_wheel) != len(digits):
        return list(digits)
    out = list(digits)
    for i, ((d, p), w) in enumerate(zip(op.per_wheel, wheels, strict=True)):
        if d is not None and d != digits[i] and p >= SECOND_OVER_WHEEL:
            if w["confidence"] < REVIEW_CONFIDENCE and not w["rolling"]:
                out[i] = d
    return out


ORIENT_BY_TEXT = True  # the second reader may settle which way up a row is (False: rivals as found)
TURN_ASYMMETRIC_DIGITS = frozenset({3, 4, 7})  # turned half a turn, these look like no digit at all


def _reads_upright(digits: list[int], sure_lead: int, n_black: int) -> bool:
    """True when the second reader's reading shows the row is the right way up, not turned over.

    PP-OCR's recogniser was trained on upright text. Turned half a turn, 0, 1 and 8 look the same, 6
    and 9 swap, and 2 and 5 come close; 3, 4 and 7 look like no digit. So the second reader reading
    the black wheels exactly as the wheels do (its sure lead covers them), one of them a 3, 4 or 7,
    reads the row upright: its turned twin is no rival. Rows of symmetric digits stay in doubt.
    """
    lead = min(sure_lead, len(digits))
    return n_black >= 1 and lead >= n_black and any(d in TURN_ASYMMETRIC_DIGITS for d in digits[:lead])


ORIENT_GUARD = True  # a row read against the photo's way up needs something that says it is turned


def _turned_without_evidence(layout: Layout, digits: list[int], decimals: int) -> bool:
    """True when the chosen row reads right to left in a photo whose way up is known (it is read
    turned over) and nothing in the row says it is: no red decimal wheels ending it, no digit that
    turned half a turn looks like no digit (3, 4, 7); `read_image` also asks for the unit's "m".
    Its twin then only lost on fit, which symmetric digits (0, 1, 8; 6/9; 2/5) barely change: a dev
    photo held 30 degrees askew read `01501.33`'s black wheels turned over as `10510` (fit 0.94) and
    accepted it, its twin not even a rival.
    """
    return (
        ORIENT_GUARD
        and _UPRIGHT_KNOWN.get()
        and not _upright(layout)
        and decimals == 0
        and not any(d in TURN_ASYMMETRIC_DIGITS for d in digits)
    )


def _quick_reading(layout: Layout, decimals: int | None = None) -> tuple[str, float | None]:
    """A layout's reading from its search guesses (no shift averaging): for rivals and alternatives."""
    res = resolve([g.position for g in layout.guesses])
    if decimals is None:
        decimals = _decimals(red_wheels(layout.crops))
    return _format(res.digits, min(decimals, len(res.digits) - 1))


def _plausible(value_m3: float | None, previous: Previous | None) -> str | None:
    """None when the value fits the previous reading and usage bound, else the reason."""
    if previous is None or value_m3 is None:
        return None
    p = check_plausibility(value_m3, previous.value_m3, previous.elapsed_s, previous.max_flow_m3_per_h)
    return p.reason


SIDEWAYS_TURN = True  # a photo whose print runs up and down is read turned a quarter (False: as it is)


def _turned_back(points: list[list[float]], quarters: int, h: int, w: int) -> list[list[float]]:
    """Points of the photo turned by np.rot90(bgr, quarters) (counterclockwise), in the photo's pixels."""
    k = quarters % 4
    if k == 1:  # turned[y', x'] = bgr[x', w - 1 - y']
        return [[round(w - 1 - y, 1), x] for x, y in points]
    if k == 2:  # turned[y', x'] = bgr[h - 1 - y', w - 1 - x']
        return [[round(w - 1 - x, 1), round(h - 1 - y, 1)] for x, y in points]
    if k == 3:  # turned[y', x'] = bgr[h - 1 - x', y']
        return [[y, round(h - 1 - x, 1)] for x, y in points]
    return [list(p) for p in points]


def _read_turned(
    bgr: np.ndarray, quarters: int, engine: str, style: tuple[int, int] | None, previous: Previous | None
) -> PhotoReading:
    """Read the photo turned by quarters x 90 degrees counterclockwise, its window's corners given back
    in the photo's pixels. Which way up the turned photo is, nothing says (it was turned by what the
    reader read, not by what the photographer did), so no row counts as upright there: a row whose
    turned twin reads nearly as well stays in review as orientation_uncertain.
    """
    turned = np.ascontiguousarray(np.rot90(bgr, quarters))
    token = _UPRIGHT_KNOWN.set(False)
    try:
        reading = read_image(turned, engine, None, style, previous)
    finally:
        _UPRIGHT_KNOWN.reset(token)
    reading.window = _turned_back(reading.window, quarters, *bgr.shape[:2])
    return reading


LEVEL_TILTED = True  # rows of a photo taken at a slant (20-60 degrees) are found in it turned level


def _levelled_rows(bgr: np.ndarray, slant: tuple[float, tuple[float, float]]) -> list[textdet.TextBox]:
    """The text detector's rows of a photo whose print runs at a slant (`finder.tilt_deg`: its angle,
    and where its slanted rows lie), found in the photo turned level about them and given back in the
    photo's own pixels and directions. The detector, trained on print near level, finds slanted rows
    less often and less tightly; the wheels are still cut from the photo itself (one resampling, not
    two: the dev photos' wheels are 15-30 pixels wide).
    """
    angle, centre = slant
    level, m = levelled(bgr, angle, centre)
    rows = textdet.detect(level)
    back = unlevelled([list(r.centre) for r in rows], m)
    return [
        textdet.TextBox((float(x), float(y)), r.size, ((r.angle_deg + angle + 90.0) % 180.0) - 90.0, r.score)
        for r, (x, y) in zip(rows, back, strict=True)
    ]


def _quarters_to_read_across(layout: Layout) -> int:
    """The quarter turn (np.rot90's k) that makes the row chosen in a sideways photo read left to right,
    or 0 when it does already (the print running up and down is something else: a label on its side).

    The text detector finds rows of upright print best (rows running up and down come out cut or
    merged), so a sideways photo is read turned, the row the photo as it is would be read by (its
    wheels' fit, its zeros) then reading left to right. Counterclockwise maps a row reading downwards
    to left-to-right, clockwise one reading upwards.
    """
    dx, dy = (float(v) for v in _direction(layout.candidate))
    if abs(dx) >= abs(dy):
        return 0
    return 1 if dy > 0 else -1


def read_image(
    bgr: np.ndarray,
    engine: str = "wheels",
    window: np.ndarray | None = None,
    style: tuple[int, int] | None = None,
    previous: Previous | None = None,
) -> PhotoReading:
    """Read an upright BGR photo with the named engine ("wheels" or "tesseract").

    window: corners in photo pixels to read (guided capture, or a reference's aligned window);
    style: (wheel count, decimal wheels) a meter's reference knows; previous: the meter's last
    reading and usage bound, which rule out rows that cannot be this meter's counter.
    """
    boxes, layout = None, None
    if window is None and SIDEWAYS_TURN and _UPRIGHT_KNOWN.get() and textdet.available():
        boxes = textdet.detect(bgr)
        if sideways(boxes):
            try:
                layout = choose_window(bgr, None, boxes)
            except BadImage:  # no counter in the photo as it is: look at it turned clockwise
                return _read_turned(bgr, -1, engine, style, previous)
            quarters = _quarters_to_read_across(layout)
            if quarters:
                return _read_turned(bgr, quarters, engine, style, previous)
        elif LEVEL_TILTED and (slant := tilt_deg(boxes)) is not None:
            boxes = _levelled_rows(bgr, slant)
    if layout is None:
        layout = choose_window(bgr, window, boxes)
    evidence = red_evidence(layout.crops)
    red = evidence.red
    decimals = _decimals(red)
    unsure_point = decimal_doubt(evidence, decimals)
    if style is not None and style[0] == layout.n_wheels:
        decimals = style[1]  # the confirmed photo settled which wheels are decimals
        unsure_point = False
    if engine == "tesseract":
        return _read_tesseract(layout, red)
    guesses = wheel_model().predict(layout.crops, tta=USE_TTA)
    res = resolve_nearest_consistent([g.position for g in guesses], half_down=HALF_DOWN and decimals == 0)
    wheels = []
    for i, g in enumerate(guesses):
        frac = res.positions[i] % 1.0
        wheels.append(
            {
                "digit": res.digits[i],
                "confidence": round(g.score, 3),
                "rolling": ROLLING_BAND[0] < frac < ROLLING_BAND[1],
                "red": red[i],
                "position": round(res.positions[i], 2),
            }
        )
    reading, value = _format(res.digits, decimals)
    confidence = min(w["confidence"] for w in wheels)
    # A wheel count that fits almost as well as the chosen one means the split is uncertain.
    margin = layout.fit - layout.runner_up_fit
    if margin < 0.1:
        confidence = min(confidence, margin * 5)
    alternatives = []
    rivals = []
    for r in layout.rivals:
        r_reading, r_value = _quick_reading(r)
        why = "turned_over" if r.turned else "another_row"
        # The meter's history rules out rows that cannot be its counter (a serial number, a year).
        if previous is not None and _plausible(r_value, previous) is not None:
            continue
        rivals.append(r)
        alternatives.append({"reading": r_reading, "value_m3": r_value, "why": why, "fit": round(r.fit, 3)})

    @cache
    def ask_second_reader() -> SecondOpinion:
        return second_opinion(bgr, layout, res.digits, [g.score for g in guesses])

    n_black = len(res.digits) - decimals
    # The row turned over competes (orientation_uncertain) unless the second reader reads it upright.
    if ORIENT_BY_TEXT and any(r.turned for r in rivals) and not layout.weak_ends:
        if _reads_upright(res.digits, ask_second_reader().sure_lead, n_black):
            rivals = [r for r in rivals if not r.turned]
    layout.rivals = rivals
    reason = review_reason(res.consistent, layout, margin, wheels)
    turned_unsure = _turned_without_evidence(layout, res.digits, decimals)
    second_lead = 0
    # Wheels read unsurely (not a window, row or carry in doubt): ask the second reader.
    if reason == "low_confidence" and not layout.weak_ends:
        op = ask_second_reader()
        second_lead = op.sure_lead
        if op.agrees:
            reason = review_reason(res.consistent, layout, margin, wheels, agreed=True)
        elif op.text is not None and textrec.is_digit(op.text) and len(op.text) == len(res.digits):
            r_reading, r_value = _format([int(c) for c in op.text], decimals)
            alternatives.append(
                {"reading": r_reading, "value_m3": r_value, "why": "second_reader", "fit": None}
            )
    second = ""
    if ask_second_reader.cache_info().currsize:  # it was consulted: say what it found
        op = ask_second_reader()
        if op.text is not None:
            second = "agrees" if op.agrees else "disagrees"
            if not op.agrees and 0 < decimals and op.sure_lead >= n_black:
                second = "agrees_on_black_wheels"  # only red (decimal) wheels read otherwise
    if unsure_point:
        reason = reason or "decimal_point_uncertain"
    if FEW_BLACK_DOUBT and leading_wheels_lost(n_black, decimals):
        reason = reason or "wheel_count_uncertain"
    if style is not None and style[0] != layout.n_wheels:
        reason = reason or "style_differs_from_reference"
    dials = read_dials(bgr, layout.candidate.quad) if decimals == 0 and window is None else None
    dials_used = False
    if dials is not None and dials.confidence >= DIALS_CONFIDENT:
        if _dial_wheel_residual(guesses[-1].position, dials.value_fraction_m3) > DIAL_WHEEL_TOLERANCE:
            # The last wheel turns with the x0.1 dial: disagreeing, one of them is misread (a pointer
            # read from the wrong end is off by exactly half a turn and passes the gearing rule).
            reason = reason or "dials_disagree_with_wheels"
        else:
            # Whole m3 on the wheels, decimals on the pointer dials (docs/ocr_dials.md). The last
            # wheel turns with the x0.1 dial, so the dials also settle which digit it shows.
            dials_used = True
            value = combine_with_wheels([g.position for g in guesses], dials)
            reading = f"{int(value):0{len(guesses)}d}"[-len(guesses) :] + "." + dials.decimals
            decimals = len(dials.decimals)
    dropped = 0
    if (
        (
            reason in WHOLE_FOR
            or (reason == "window_may_continue" and _only_decimals_may_continue(layout, red))
        )
        # (wheels too weak to link added only past the red wheels are a doubt about decimals alone)
        and not (layout.weak_ends and not (WEAK_PAST_RED and _weak_past_red(layout, red)))
        and not dials_used
        and not unsure_point
        and (style is None or style[0] == layout.n_wheels)
    ):
        whole = _sure_whole_m3(guesses, wheels, res.digits, decimals, second_lead, evidence.marginal)
        if whole is not None:
            # Only red (decimal) wheels were unsure: the black wheels' whole m3 is the reading, as a
            # meter reader writes it down. The full reading stays first among the alternatives.
            alternatives.insert(
                0, {"reading": reading, "value_m3": value, "why": "with_unsure_decimals", "fit": None}
            )
            reading, value = _format(whole, 0)
            dropped, decimals = decimals, 0
            confidence = min(w["confidence"] for w in wheels[: len(whole)])
            reason = None
    if reason == "low_confidence" and second in ("disagrees", "agrees_on_black_wheels") and not dials_used:
        # In review anyway: where the second reader is sure of another digit on an unsure still wheel,
        # show its digit first; the wheels' own reading is the first alternative.
        merged = _second_digits(res.digits, wheels, ask_second_reader())
        if merged != list(res.digits):
            alternatives.insert(
                0, {"reading": reading, "value_m3": value, "why": "wheels_alone", "fit": None}
            )
            reading, value = _format(merged, decimals)
    alternatives += _wheel_alternatives(res.positions, decimals + dropped, guesses, dials_used)
    # (PP-OCR reading the unit's "m" beside the row, read as it was, says it is turned: `_orient_by_unit`;
    # asked last, and only of a reading that would otherwise be stored.)
    if reason is None and turned_unsure and not (UNIT_ORIENTS and _reads_unit(bgr, layout)):
        reason = "orientation_uncertain"
    implausible = _plausible(value, previous)
    if implausible is not None:
        reason = reason or implausible
    if LARGE_DOUBT and value is not None:
        if beyond_household_range(value, None if previous is None else previous.value_m3):
            reason = reason or "beyond_household_range"
    if UNSEEN_DECIMALS_DOUBT and value is not None:
        # (with pointer dials, every wheel is a whole one and none is red)
        red_wheels_read = 0 if dials_used else decimals + dropped
        whole_wheels = len(res.digits) - red_wheels_read
        prev_m3 = None if previous is None else previous.value_m3
        if decimals_unseen(whole_wheels, red_wheels_read, value, prev_m3):
            reason = reason or "decimal_point_uncertain"
    return PhotoReading(
        reading=reading,
        value_m3=value,
        confidence=round(float(confidence), 3),
        needs_review=reason is not None,
        wheels=wheels,
        integer_digits=len(res.digits) - (0 if dials_used else decimals + dropped),
        decimal_digits=decimals,
        decimals_dropped=dropped,
        dials_used=dials_used,
        engine="wheels",
        reason=reason,
        alternatives=alternatives[:MAX_ALTERNATIVES],
        window=[[round(float(x), 1), round(float(y), 1)] for x, y in layout_quad(layout)],
        window_source=layout.candidate.source,
        second_reader=second,
    )


WEAK_PAST_RED = True  # weak wheels added only after a red wheel leave the black wheels' whole m3 readable


def _weak_past_red(layout: Layout, red: list[bool]) -> bool:
    """True when the only wheels too weak to link (`_extend_weak`) were added at the right end, each red
    and after a red wheel: what a counter has past its first red wheel is more decimals, so the weak
    wheels say nothing of the black ones. (Dev photos turned 3 degrees or blurred: 19134.26 and
    03918.77 were read surely but for a weak third red wheel past them, and waited for a person.)"""
    left, right = layout.weak_sides
    n = layout.n_wheels
    return left == 0 and 0 < right < n and len(red) == n and all(red[n - right - 1 :])


WHOLE_PAST_RED_END = True  # a chain whose only doubt lies beyond its red last wheel gives its whole m3


def _only_decimals_may_continue(layout: Layout, red: list[bool]) -> bool:
    """True when the window's only doubt lies beyond its last wheel and that wheel is red: what may
    continue the row there are more decimal wheels (a counter's red wheels end it), so its black
    wheels are all in and their whole m3 can be read (`_sure_whole_m3`). A dev photo's chain of
    00588.8 ran out of its slide after the first red wheel; the second reader saw two more beyond."""
    return (
        WHOLE_PAST_RED_END
        and layout.maybe_partial
        and layout.beyond_sides == (False, True)
        and len(red) == layout.n_wheels
        and red[-1]
        and not all(red)
    )


# a reading of the black wheels alone needs at least as many as a household counter has (water and gas: 4-6)
MIN_WHOLE_WHEELS = HOUSEHOLD_MIN_WHOLE_WHEELS
# ...and its last black wheel read at its digit: a fraction under ROLLING_BAND[0], or from this on (the
# next digit read a little low; a carry 90 % done needs the tenths wheel past 9.9, about 1 reading in 100)
WHOLE_AT_NEXT_DIGIT = 0.9
# Red (decimal) wheels after fewer black ones than a household counter has wait for a person
# (`plausibility.leading_wheels_lost`). Dev photos scaled 0.9 and seen 30 degrees from below were accepted
# as `088.592` (01088.592) and `8.117` (02118.117). False: stored.
FEW_BLACK_DOUBT = True
# A reading of a million m3 or more waits for a person (`plausibility.beyond_household_range`): dev
# photos turned 3 degrees or seen from the side read the serial number 29565003 above the counter
# 01501.33, whose black wheels the text detector did not find. False: stored.
LARGE_DOUBT = True
# More whole wheels than a household counter has and none red waits for a person
# (`plausibility.decimals_unseen`): the decimal wheels were likely not seen as red. No dev photo is read
# so (a guard, measured on renders drawn with black decimal wheels: docs/ocr.md round 19). False: stored.
UNSEEN_DECIMALS_DOUBT = True


# Review reasons that leave the black wheels' whole m3 to be read on its own: wheels read unsurely, or
# a wheel caught between two digits read unsurely (the fastest, last red wheel rolls in most photos).
# _sure_whole_m3 still asks every black wheel to be sure, a rolling one at ROLLING_REVIEW_CONFIDENCE.
WHOLE_FOR = ("low_confidence", "rolling_wheel_unsure")


def _sure_whole_m3(
    guesses: list[WheelGuess],
    wheels: list[dict],
    digits: list[int],
    decimals: int,
    agreed_lead: int = 0,
    marginal: list[bool] | None = None,
) -> list[int] | None:
    """The integer wheels' digits when they alone are read surely and the decimals cannot move them.

    Every integer wheel black and read at REVIEW_CONFIDENCE (rolling: ROLLING_REVIEW_CONFIDENCE), the last one
    at its digit (a turning last integer wheel is read by the tenths wheel's carry, which is unsure here), and
    the integer wheels resolved alone give the same digits as with the decimals (a misread tenths
    wheel that moved the last integer wheel's digit through the carry rule is caught here).

    agreed_lead: the leading wheels the second reader read as the very same digits, each surely (its
    "sure lead", `second_opinion`); a still wheel among them counts as read surely. A rolling
    wheel never does (the second reader reads whichever digit shows more).
    """
    n_int = len(digits) - decimals
    if decimals < 1 or n_int < MIN_WHOLE_WHEELS:
        return None
    whole = wheels[:n_int]
    # The last black wheel at its digit, not on its way to the next: near the carry (a tenths wheel
    # past 9) the whole m3 (3263 of 3263.98) and the digit the wheel nearly shows (3264) differ, and
    # only the unsure tenths wheel could say which the wheel is at.
    if ROLLING_BAND[0] <= guesses[n_int - 1].position % 1.0 < WHOLE_AT_NEXT_DIGIT:
        return None
    confirmed = [i < agreed_lead and not w["rolling"] for i, w in enumerate(whole)]
    if any(w["red"] and not _stray_red(i, wheels, marginal) for i, w in enumerate(whole)) or any(
        w["confidence"] < REVIEW_CONFIDENCE for w, sure in zip(whole, confirmed, strict=True) if not sure
    ):
        return None  # black wheels, each read surely: a red one before the decimals is a cut gone wrong
    if any(w["confidence"] < ROLLING_REVIEW_CONFIDENCE for w in whole if w["rolling"]):
        return None
    alone = resolve_nearest_consistent([g.position for g in guesses[:n_int]])
    if not alone.consistent or list(alone.digits) != list(digits[:n_int]):
        return None
    return list(alone.digits)


STRAY_RED_WHOLE = True  # a black wheel only just red, too far from the end to be a decimal, is black


def _stray_red(i: int, wheels: list[dict], marginal: list[bool] | None) -> bool:
    """Wheel i is red only just (marginal) and too far from the row's end to be a decimal wheel.

    Decimals are a trailing run of at most MAX_DECIMALS wheels. A wheel before that, with a black wheel
    after it, read red only just past a mark (not by its own colour): its digit shapes the centre's
    colour (a thin "1" shows more face than an "8"; a tinted photo spreads black wheels' redness over
    tens of levels), not a cut gone wrong.
    """
    n = len(wheels)
    return bool(
        STRAY_RED_WHOLE
        and marginal is not None
        and len(marginal) == n
        and marginal[i]
        and i < n - MAX_DECIMALS
        and any(not w["red"] for w in wheels[i + 1 : n - MAX_DECIMALS + 1])
    )


MAX_ALTERNATIVES = 4


def _wheel_alternatives(
    positions: list[float], decimals: int, guesses: list[WheelGuess], dials_used: bool
) -> list[dict]:
    """Readings one wheel away: the weakest wheel's other neighbour digit (where misreads happen)."""
    if dials_used or not positions:
        return []
    i = int(np.argmin([g.score for g in guesses]))
    digits = [int(round(p)) % 10 for p in positions]
    frac = positions[i] - np.floor(positions[i])
    other = (int(np.floor(positions[i])) + (0 if frac >= 0.5 else 1)) % 10
    if other == digits[i]:
        return []
    alt = digits[:i] + [other] + digits[i + 1 :]
    reading, value = _format(alt, decimals)
    return [{"reading": reading, "value_m3": value, "why": f"wheel_{i + 1}_between_digits", "fit": None}]


def layout_quad(layout: Layout) -> np.ndarray:
    """The corners (photo pixels) of the strip the wheels were read in: the window as grown or cut to them."""
    return extended_quad(layout.candidate.quad, layout.extend_px)


def _read_tesseract(layout: Layout, red: list[bool]) -> PhotoReading:
    """The design's engine for comparison: tesseract reads the rectified row as one line."""
    h = layout.strip.shape[0]
    trim = int(round(layout.side_trim * h))
    inner = layout.strip[int(0.1 * h) : h - int(0.1 * h), trim : layout.strip.shape[1] - trim]
    text, conf = tesseract_digits(inner)
    n = len(text)
    reason = None
    if not 4 <= n <= 8:
        reason = "tesseract_wheel_count"
    elif conf < REVIEW_CONFIDENCE:
        reason = "low_confidence"
    decimals = min(_decimals(red), max(0, n - 1)) if n else 0
    if n:
        reading, value = _format([int(c) for c in text], decimals)
    else:
        reading, value = "", None
    wheels = [{"digit": int(c), "confidence": round(conf, 3), "rolling": False} for c in text]
    return PhotoReading(
        reading=reading,
        value_m3=value,
        confidence=round(conf, 3),
        needs_review=reason is not None,
        wheels=wheels,
        integer_digits=n - decimals,
        decimal_digits=decimals,
        dials_used=False,
        engine="tesseract",
        reason=reason,
    )
