"""Read the four red pointer dials (x0.1 ... x0.0001 m3) of a rotary-vane meter (docs/ocr_dials.md)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ocr_reader.carry import settle
from ocr_reader.locate import order_quad

N_DIALS = 4
FACTORS_M3 = (0.1, 0.01, 0.001, 0.0001)  # coarsest first, as DialReading.per_dial lists them
GOOD_RESIDUAL = 0.12  # pointer angles are read to about this (digits); residuals below it cost nothing
MAX_RESIDUAL = 0.35  # a dial this far (in digits) from where the finer dial says it must be: misread
CONFIDENT = 0.5  # DialReading.confidence at or above this: the dials may be added to the value

# Rectified view when the counter window is known: the window is WINDOW_W_PX wide and the view
# spans the meter face around it (dials sit below, beside or above the window).
WINDOW_W_PX = 260
VIEW_LEFT, VIEW_RIGHT, VIEW_UP, VIEW_DOWN = 0.6, 1.6, 0.8, 1.9  # in window widths from its top-left
RADIUS_WINDOW = (0.06, 0.3)  # dial radius / window width
MIN_WINDOW_PX = 24  # narrower counter windows in the photo: the dials beside them are unreadable
# Without a window the photo is searched as it is, at WORK_PX on its long side.
WORK_PX = 720
RADIUS_PHOTO = (0.02, 0.11)  # dial radius / short side of the photo

MIN_NEEDLE_QUALITY = 0.15  # red blobs less needle-like than this are not pointers
TAPER_WEIGHT = 0.5  # hub end = wider end, weighed against the circle fit around each end
MAX_LENGTH_RATIO = 2.0  # the pointers of one meter are alike (measured lengths vary with blur)


@dataclass
class Dial:
    """One circle with a red pointer, in view coordinates."""

    x: float
    y: float
    r: float
    position: float  # pointer position 0..10, clockwise from the top
    needle: float  # 0..1 how needle-like the red pixels are
    rim: float  # 0..1 how much of the circle's outline has an edge on it
    length: float  # hub to tip, px


@dataclass
class Gearing:
    """Geared dial positions resolved finest first (like carry.resolve for wheels)."""

    positions: list[float]  # consistent positions, coarsest first
    digits: list[int]  # the digit each pointer has passed, coarsest first
    residuals: list[float]  # |measured - consistent| per dial, in digits
    consistent: bool


@dataclass
class DialReading:
    """The decimals shown on the pointer dials and how sure the reader is."""

    decimals: str  # digits passed by the x0.1 ... x0.0001 pointers, e.g. "3702"
    value_fraction_m3: float  # continuous, 0 <= value < 1 (x0.1 position / 10)
    confidence: float  # 0..1; >= CONFIDENT means the dials may be added to the wheels' value
    per_dial: list = field(default_factory=list)  # one dict per dial, x0.1 first
    reason: str | None = None  # why the confidence is low, if it is


def _soft(x: float, lo: float, hi: float) -> float:
    """0 below lo, 1 above hi, linear between."""
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def resolve_gearing(positions: list[float]) -> Gearing:
    """Resolve measured pointer positions (coarsest first) with the gearing rule.

    Geared dials turn continuously: a dial's position is its digit plus a tenth of the next finer
    dial's position. The finest dial is trusted as measured; each coarser dial's whole digit is
    round(measured - finer / 10), so a x0.1 pointer at 3.95 with x0.01 at 0.5 is digit 4 (4.05).
    """
    q, residuals = settle(positions, lambda finer: finer / 10.0)
    digits = [int(math.floor(v + 1e-9)) % 10 for v in q]
    return Gearing(q, digits, residuals, all(r <= MAX_RESIDUAL for r in residuals))


def combine_with_wheels(wheel_positions: list[float], reading: DialReading) -> float:
    """Whole m3 from the wheels' positions (most significant first) plus the dials' fraction.

    The last black wheel turns with the x0.1 dial, so its whole digit is round(position - fraction);
    upper wheels follow the odometer rule (carry.resolve) above it.
    """
    from ocr_reader.carry import resolve

    if not wheel_positions:
        raise ValueError("wheel_positions is empty")
    frac = reading.value_fraction_m3
    last = (round(wheel_positions[-1] % 10.0 - frac) % 10) + frac
    res = resolve(list(wheel_positions[:-1]) + [last])
    whole = [int(math.floor(p + 1e-9)) % 10 for p in res.positions]
    return int("".join(str(d) for d in whole)) + frac


def _view(bgr: np.ndarray, quad) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The image to search, the matrix from photo to view pixels, and the dial radius range in px."""
    h0, w0 = bgr.shape[:2]
    if quad is None:
        scale = min(1.0, WORK_PX / max(h0, w0))
        m = np.array([[scale, 0, 0], [0, scale, 0], [0, 0, 1]], np.float64)
        size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
        short = min(size)
        rng = (RADIUS_PHOTO[0] * short, RADIUS_PHOTO[1] * short)
    else:
        q = order_quad(np.asarray(quad, np.float32).reshape(4, 2))
        top = float(np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3]))
        side = float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1]))
        ww = float(WINDOW_W_PX)
        wh = ww * side / max(top, 1e-6)
        ox, oy = VIEW_LEFT * ww, VIEW_UP * ww
        dst = np.array([[ox, oy], [ox + ww, oy], [ox + ww, oy + wh], [ox, oy + wh]], np.float32)
        m = cv2.getPerspectiveTransform(q, dst).astype(np.float64)
        size = (int((VIEW_LEFT + VIEW_RIGHT) * ww), int((VIEW_UP + VIEW_DOWN) * ww))
        rng = (RADIUS_WINDOW[0] * ww, RADIUS_WINDOW[1] * ww)
    view = cv2.warpPerspective(bgr, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return view, m, rng


def _red_mask(view: np.ndarray) -> np.ndarray:
    """Red pixels (uint8 0/1): red above green and blue (as wheels.is_red), with hysteresis.

    Thin pointers blurred into a light face keep only a little of their redness: weakly red
    pixels count when they touch clearly red ones. A pinkish face or warm light raises every
    pixel's excess, so both levels are measured against the typical pixel.
    """
    v = view.astype(np.int16)
    b, g, r = v[..., 0], v[..., 1], v[..., 2]
    excess = r - np.maximum(g, b)
    base = float(np.median(excess))
    weak = ((excess > max(18.0, base + 15.0)) & (excess * 100 > 12 * (r + 1))).astype(np.uint8)
    strong = excess > max(40.0, base + 35.0)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return keep[labels].astype(np.uint8)


def _needle(xs: np.ndarray, ys: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """Both readings of one red bar: (hub x, hub y, tip length, position 0..10, taper), wide end first.

    A pointer is a red bar, widest at its hub and pointed at its tip: the principal axis of its
    pixels gives its direction, the widest point along that axis its hub (the dial's centre).
    Blur and a black hub can hide the taper, so the caller also weighs the dial circle around
    each end (taper > 0: the first reading's end is the wider one).
    """
    pts = np.column_stack([xs, ys]).astype(np.float64)
    mean = pts.mean(axis=0)
    c = pts - mean
    evals, evecs = np.linalg.eigh(np.cov(c.T))
    axis = evecs[:, 1]
    t = c @ axis
    s = c @ evecs[:, 0]
    t_lo, t_hi = float(t.min()), float(t.max())
    span = t_hi - t_lo
    if span < 6:
        return []
    nb = 12
    idx = np.minimum(((t - t_lo) / span * nb).astype(int), nb - 1)
    # Width per slice along the axis: the spread across it.
    width = np.array([np.ptp(s[idx == k]) + 1 if np.any(idx == k) else 0.0 for k in range(nb)])
    first, last = width[: nb // 3].mean(), width[-(nb // 3) :].mean()
    if first < last:  # make the wide end the start of the axis
        axis, t, width = -axis, -t, width[::-1]
        t_lo, t_hi = -t_hi, -t_lo
        first, last = last, first
    taper = 1.0 - last / max(first, 1e-6)
    hub_off = (int(np.argmax(width[: nb // 2])) + 0.5) * span / nb
    out = []
    for sign, hub_t in ((1.0, t_lo + hub_off), (-1.0, t_hi - hub_off)):
        length = (t_hi - hub_t) if sign > 0 else (hub_t - t_lo)
        centre = mean + hub_t * axis
        ax, ay = sign * axis
        angle = math.atan2(ax, -ay)  # clockwise from up (image y grows downwards)
        out.append(
            (
                float(centre[0]),
                float(centre[1]),
                float(length),
                (angle / (2 * math.pi) * 10.0) % 10.0,
                sign * taper,
            )
        )
    return out


def _needle_quality(xs: np.ndarray, ys: np.ndarray) -> float:
    """0..1: how much a red blob looks like a pointer (elongated, solid)."""
    pts = np.column_stack([xs, ys]).astype(np.float64)
    evals = np.linalg.eigvalsh(np.cov((pts - pts.mean(axis=0)).T))
    elong = math.sqrt(max(evals[1], 1e-6) / max(evals[0], 1e-6))
    # A solid bar of length L and width w covers about L * w pixels; a ring or a star far fewer.
    span = math.sqrt(12 * max(evals[1], 1e-6))
    width = math.sqrt(12 * max(evals[0], 1e-6))
    fill = len(xs) / max(1.0, span * width)
    return _soft(elong, 1.6, 3.0) * _soft(fill, 0.35, 0.6)


def _rim(edges: np.ndarray, x: float, y: float, r: float) -> float:
    """Share of 48 points on the circle (r ± 6 %) with an edge: how well the circle fits."""
    h, w = edges.shape
    a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    hits = np.zeros(48, bool)
    for k in (0.94, 1.0, 1.06):
        xs = np.clip(np.round(x + k * r * np.cos(a)).astype(int), 0, w - 1)
        ys = np.clip(np.round(y + k * r * np.sin(a)).astype(int), 0, h - 1)
        hits |= edges[ys, xs] > 0
    return float(hits.mean())


def _find_dials(view: np.ndarray, r_lo: float, r_hi: float) -> list[Dial]:
    """Red pointers with the dial around each, best first.

    Pointers are found first (red, elongated, tapering); the dial's radius comes from the best
    circle of edges (rim, ticks or digit ring) around the hub, else from the pointer's length.
    """
    red = _red_mask(view)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(red, connectivity=8)
    gray = cv2.GaussianBlur(cv2.cvtColor(view, cv2.COLOR_BGR2GRAY), (3, 3), 0)
    edges = cv2.Canny(gray, 40, 110)
    min_area, max_area = 0.01 * r_lo * r_lo, 0.6 * r_hi * r_hi
    found = []
    for k in range(1, n):
        x0, y0, w, h, area = stats[k]
        if not min_area <= area <= max_area or max(w, h) < 0.3 * r_lo or max(w, h) > 1.9 * r_hi:
            continue
        ys, xs = np.nonzero(labels[y0 : y0 + h, x0 : x0 + w] == k)
        quality = _needle_quality(xs, ys)
        if quality < MIN_NEEDLE_QUALITY:
            continue
        best = None
        for cx, cy, length, pos, taper in _needle(xs + x0, ys + y0):
            # Pointers reach 0.5-0.92 of the dial radius: keep the circle with most edge on it.
            radii = [r for r in np.linspace(length / 0.92, length / 0.5, 10) if r_lo <= r <= r_hi]
            if not radii:
                continue
            rim, r = max((_rim(edges, cx, cy, r), r) for r in radii)
            # The dial's rim, ticks and digits circle the hub, not the tip.
            score = rim + TAPER_WEIGHT * taper
            if best is None or score > best[0]:
                best = (score, Dial(cx, cy, float(r), pos, quality, rim, length))
        if best is not None:
            found.append(best[1])
    found.sort(key=lambda d: -(d.needle * (0.5 + d.rim)))
    return found


def _chain(dials: list[Dial]) -> list[Dial]:
    """Order dials along their row or arc: by projection on the centres' principal axis."""
    pts = np.array([(d.x, d.y) for d in dials])
    c = pts - pts.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    return [dials[i] for i in np.argsort(c @ vt[0])]


def _chain_roll(chain: list[Dial]) -> float:
    """The photo's roll in dial digits, taking the dial row (or the chord of the arc) as level.

    Only used without a counter window: dial rows and arcs are laid out level on the face.
    """
    pts = np.array([(d.x, d.y) for d in chain])
    dx, dy = pts[-1] - pts[0]
    theta = math.atan2(dy, dx)
    if theta > math.pi / 2:
        theta -= math.pi
    elif theta <= -math.pi / 2:
        theta += math.pi
    return theta / (2 * math.pi) * 10.0


def _set_score(dials: list[Dial]) -> float:
    """How well four pointers form one meter's dial set (-1: they cannot)."""
    lengths = [d.length for d in dials]
    # One meter's pointers are alike; their measured lengths are steadier than the fitted radii.
    if max(lengths) > MAX_LENGTH_RATIO * min(lengths):
        return -1.0
    # Neighbours along the chain sit a few pointer lengths apart: not overlapping, not across the meter.
    chain = _chain(dials)
    gaps = [math.hypot(a.x - b.x, a.y - b.y) / np.mean(lengths) for a, b in itertools.pairwise(chain)]
    # ...and evenly: a row or an arc of equal steps.
    if min(gaps) < 1.5 or max(gaps) > 10.0 or max(gaps) > 1.8 * min(gaps):
        return -1.0
    return float(np.mean([d.needle * (0.5 + d.rim) for d in dials]))


def _best_set(dials: list[Dial]) -> list[Dial] | None:
    best, best_score = None, 0.0
    for combo in itertools.combinations(dials[:8], N_DIALS):
        s = _set_score(list(combo))
        if s > best_score:
            best, best_score = list(combo), s
    return best


def read_dials(bgr: np.ndarray, window_quad_or_none=None) -> DialReading | None:
    """Find and read the four pointer dials; None when the photo shows no set of four.

    window_quad_or_none: the counter window's corners in photo pixels (any order), as the
    pipeline's locator finds them. With it, the face is rectified so the window is upright and
    the dials are circles; without it, the photo's own "up" is taken as the meter's.
    """
    if not isinstance(bgr, np.ndarray) or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError("bgr must be an HxWx3 uint8 array")
    if min(bgr.shape[:2]) < 48:
        return None  # too small to hold a meter face, let alone four dials
    if window_quad_or_none is not None:
        quad = np.asarray(window_quad_or_none, np.float32)
        if quad.shape not in ((4, 2), (4, 1, 2)) or not np.all(np.isfinite(quad)):
            raise ValueError("window_quad_or_none must be 4 (x, y) corners")
        if cv2.contourArea(order_quad(quad)) < 16:
            raise ValueError("window_quad_or_none is degenerate (no area)")
        if float(np.linalg.norm(order_quad(quad)[1] - order_quad(quad)[0])) < MIN_WINDOW_PX:
            return None  # a window this small cannot have dials big enough to read beside it
    view, m, (r_lo, r_hi) = _view(bgr, window_quad_or_none)
    dials = _find_dials(view, r_lo, r_hi)
    if len(dials) < N_DIALS:
        return None
    chosen = _best_set(dials)
    if chosen is None:
        return None
    chain = _chain(chosen)
    roll = 0.0
    if window_quad_or_none is None:
        roll = _chain_roll(chain)
        for d in chain:
            d.position = (d.position - roll) % 10.0
    # Which end is x0.1? The order whose pointers obey the gearing rule; the other one almost never does.
    options = []
    for order in (chain, chain[::-1]):
        g = resolve_gearing([d.position for d in order])
        options.append((sum(g.residuals), g, order))
    options.sort(key=lambda o: o[0])
    _, gear, order = options[0]
    other = options[1][1]
    reason = None
    worst = max(gear.residuals)
    # Angles are read to about 0.1 digit: residuals beyond that mean a misread pointer or a wrong set.
    gear_term = 1.0 - _soft(worst, GOOD_RESIDUAL, MAX_RESIDUAL)
    order_term = 1.0
    if other.consistent and other.digits != gear.digits:
        order_term = _soft(max(other.residuals) - worst, 0.0, 0.15)
    if not gear.consistent:
        reason = "dials_disagree_with_gearing"
    elif order_term < 1.0:
        reason = "dial_order_ambiguous"
    needle_term = 0.5 + 0.5 * min(d.needle for d in order)
    rim_term = 0.7 + 0.3 * _soft(min(d.rim for d in order), 0.2, 0.6)
    confidence = gear_term * order_term * needle_term * rim_term
    if reason is None and confidence < CONFIDENT:
        reason = "low_confidence"
    inv = np.linalg.inv(m)
    per_dial = []
    for i, d in enumerate(order):
        c = cv2.perspectiveTransform(np.array([[[d.x, d.y]]], np.float64), inv)[0, 0]
        e = cv2.perspectiveTransform(np.array([[[d.x + d.r, d.y]]], np.float64), inv)[0, 0]
        per_dial.append(
            {
                "factor_m3": FACTORS_M3[i],
                "digit": gear.digits[i],
                "measured": round(d.position, 3),
                "position": round(gear.positions[i], 3),
                "residual": round(gear.residuals[i], 3),
                "needle": round(d.needle, 3),
                "rim": round(d.rim, 3),
                "centre_px": (round(float(c[0]), 1), round(float(c[1]), 1)),
                "radius_px": round(float(np.hypot(*(e - c))), 1),
            }
        )
    return DialReading(
        decimals="".join(str(dg) for dg in gear.digits),
        value_fraction_m3=gear.positions[0] / 10.0,
        confidence=round(confidence, 3),
        per_dial=per_dial,
        reason=reason,
    )
