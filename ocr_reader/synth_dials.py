"""Render synthetic photos of rotary-vane meters: whole m3 on wheels, decimals on red pointer dials."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ocr_reader.synth import (
    TRAINING_SETS,
    PhotoParams,
    available_fonts,
    glyph,
    photograph,
    random_background,
    random_wheel_style,
    render_counter,
    shown_reading,
    wheel_positions,
)

DIAL_FACTORS = (0.1, 0.01, 0.001, 0.0001)  # coarsest first, as DialTruth and DialReading list them
DIAL_LABELS = ("0.1", "0.01", "0.001", "0.0001")


@dataclass
class DialTruth:
    """What a rendered dial photo shows (photo pixel coordinates after all distortions)."""

    value_m3: float  # continuous: whole m3 on the wheels plus the fraction on the dials
    n_wheels: int
    wheel_reading: str  # whole m3 as the wheels show it (each wheel's digit nearest the centre)
    dial_positions: list = field(default_factory=list)  # continuous 0..10 per dial, x0.1 first
    dial_digits: str = ""  # the digit each pointer has passed, x0.1 first, e.g. "3702"
    dial_centres: list = field(default_factory=list)  # (x, y) per dial, x0.1 first
    dial_radii: list = field(default_factory=list)  # mean radius in photo pixels per dial
    window_quad: list = field(default_factory=list)  # counter window corners tl, tr, br, bl
    layout: str = "row"  # "row" or "arc"
    coarse_left: bool = True  # the x0.1 dial is at the left end of the chain

    @property
    def fraction_m3(self) -> float:
        """The decimals the dials show, as m3 (0 <= fraction < 1)."""
        return self.value_m3 - math.floor(self.value_m3)


def dial_positions(value_m3: float) -> list[float]:
    """Continuous pointer positions (0..10) of the x0.1 ... x0.0001 dials: geared, so never whole."""
    frac = value_m3 - math.floor(value_m3)
    return [(frac * 10**k) % 10.0 for k in range(1, 5)]


def _random_fraction(rng: np.random.Generator) -> float:
    """Decimals that often sit at a gearing edge (x999, x000) so the gearing rule is exercised."""
    digits = [int(d) for d in rng.integers(0, 10, 4)]
    u = rng.random()
    if u < 0.25:
        k = int(rng.integers(1, 4))
        digits[4 - k :] = [9] * k
    elif u < 0.35:
        k = int(rng.integers(1, 4))
        digits[4 - k :] = [0] * k
    return sum(d * 10 ** -(i + 1) for i, d in enumerate(digits)) + float(rng.random()) * 1e-4


def _put_text(
    canvas: np.ndarray, font: str, text: str, x: float, y: float, h: int, color, centre=True
) -> None:
    """Paint text h px high with its top-left (or centre) at x, y; clipped at the canvas edges."""
    if font.startswith("hershey:") or font == "pil:default":
        text = text.replace("×", "x")  # Hershey faces are ASCII only
    try:
        g = glyph(font, text, 2)
    except (OSError, ValueError):  # a face without the glyph: fall back to ASCII
        g = glyph(font, text.replace("×", "x"), 2)
    h = max(3, int(h))
    w = int(round(g.shape[1] * h / g.shape[0]))
    if w < 2:
        return
    m = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    if centre:
        x, y = x - w / 2, y - h / 2
    x, y = int(round(x)), int(round(y))
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    sub = m[y0 - y : y1 - y, x0 - x : x1 - x]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region * (1 - sub) + np.array(color, np.float32) * sub).astype(np.uint8)


def _draw_dial(canvas, rng, font: str, cx: float, cy: float, r: float, position: float, look: dict) -> None:
    """One dial: face, rim or ticks, digits 0-9 clockwise from the top, a red pointer at position."""
    c = (int(round(cx)), int(round(cy)))
    ri = int(round(r))
    if look["own_face"]:
        cv2.circle(canvas, c, ri, look["dial_face"], -1, cv2.LINE_AA)
    if look["rim"]:
        cv2.circle(canvas, c, ri, look["ink"], look["rim_px"], cv2.LINE_AA)
    for d in range(10):
        a = 2 * math.pi * d / 10 - math.pi / 2  # 0 at the top, digits increase clockwise
        ca, sa = math.cos(a), math.sin(a)
        if look["ticks"]:
            p0 = (int(cx + 0.84 * r * ca), int(cy + 0.84 * r * sa))
            p1 = (int(cx + 0.96 * r * ca), int(cy + 0.96 * r * sa))
            cv2.line(canvas, p0, p1, look["ink"], max(1, ri // 18), cv2.LINE_AA)
        tr = look["digit_r"] * r
        _put_text(canvas, font, str(d), cx + tr * ca, cy + tr * sa, look["digit_h"] * r, look["ink"])
    a = 2 * math.pi * position / 10 - math.pi / 2
    ca, sa = math.cos(a), math.sin(a)
    px, py = -sa, ca  # perpendicular
    half_w = look["needle_w"] * r / 2
    tip = (cx + look["needle_len"] * r * ca, cy + look["needle_len"] * r * sa)
    tail = (cx - look["tail_len"] * r * ca, cy - look["tail_len"] * r * sa)
    poly = np.array(
        [
            tip,
            (cx + half_w * px, cy + half_w * py),
            (tail[0] + 0.5 * half_w * px, tail[1] + 0.5 * half_w * py),
            (tail[0] - 0.5 * half_w * px, tail[1] - 0.5 * half_w * py),
            (cx - half_w * px, cy - half_w * py),
        ],
        np.float32,
    )
    cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], look["red"], cv2.LINE_AA, shift=4)
    hub_col = look["red"] if look["red_hub"] else look["ink"]
    cv2.circle(canvas, c, max(2, int(round(look["hub"] * r))), hub_col, -1, cv2.LINE_AA)


def _random_look(rng: np.random.Generator, face) -> dict:
    """How one meter's dials look (all four dials of a meter share it)."""
    red = (int(rng.integers(0, 60)), int(rng.integers(0, 50)), int(rng.integers(150, 235)))
    return {
        "own_face": rng.random() < 0.6,
        "dial_face": tuple(int(v) for v in rng.integers(215, 256, 3)),
        "rim": rng.random() < 0.8,
        "rim_px": int(rng.integers(1, 4)),
        "ticks": rng.random() < 0.6,
        "ink": (int(rng.integers(0, 60)),) * 3,
        "digit_r": float(rng.uniform(0.6, 0.72)),
        "digit_h": float(rng.uniform(0.18, 0.26)),
        "needle_len": float(rng.uniform(0.6, 0.85)),
        "needle_w": float(rng.uniform(0.1, 0.2)),
        "tail_len": float(rng.uniform(0.0, 0.25)),
        "hub": float(rng.uniform(0.07, 0.15)),
        "red_hub": rng.random() < 0.6,
        "red": red,
        "label_inside": rng.random() < 0.3,
        "label_red": rng.random() < 0.3,
        "label_h": float(rng.uniform(0.28, 0.42)),
    }


def _red_star(canvas, cx: float, cy: float, r: float, ink, red) -> None:
    """The rotary-vane flow indicator: a red star in a small round window (a dial-like distractor)."""
    cv2.circle(canvas, (int(cx), int(cy)), int(r), ink, max(1, int(r // 8)), cv2.LINE_AA)
    for k in range(3):
        a = math.pi * k / 3
        p0 = (int(cx - 0.85 * r * math.cos(a)), int(cy - 0.85 * r * math.sin(a)))
        p1 = (int(cx + 0.85 * r * math.cos(a)), int(cy + 0.85 * r * math.sin(a)))
        cv2.line(canvas, p0, p1, red, max(2, int(r // 4)), cv2.LINE_AA)


def render_dial_photo(
    rng: np.random.Generator,
    font_set: str = "train",
    params: PhotoParams | None = None,
    with_dials: bool = True,
) -> tuple[bytes, DialTruth]:
    """Render one rotary-vane meter photo (JPEG bytes) with its truth; with_dials=False leaves them off."""
    p = params or PhotoParams()
    fonts = available_fonts(font_set)
    canvas, bg = random_background(rng)
    h, w = canvas.shape[:2]
    cx = w / 2 + rng.uniform(-0.06, 0.06) * w
    cy = h / 2 + rng.uniform(-0.04, 0.04) * h
    radius = min(w, h) * rng.uniform(0.4, 0.47)
    body = [(40, 110, 160), (150, 90, 30), (30, 30, 30), (120, 120, 120), (60, 140, 200)][rng.integers(5)]
    cv2.circle(canvas, (int(cx), int(cy)), int(radius * 1.1), body, -1, cv2.LINE_AA)
    face = tuple(int(c) for c in rng.integers(205, 256, 3))
    cv2.circle(canvas, (int(cx), int(cy)), int(radius), face, -1, cv2.LINE_AA)

    # Counter: 4-5 black wheels of whole m3; the last wheel turns with the x0.1 dial.
    n = int(rng.integers(4, 6))
    whole = float(rng.integers(0, 10**n))
    value = whole + _random_fraction(rng)
    style = random_wheel_style(rng, fonts, heldout=font_set not in TRAINING_SETS)
    window_w = radius * rng.uniform(0.75, 1.0)
    wheel_w = int(window_w / (n + (n + 1) * style.divider_frac))
    wheel_h = int(wheel_w * rng.uniform(1.25, 1.6))
    strip = render_counter(style, wheel_positions(value, n), 0, wheel_w, wheel_h)
    frame = max(2, int(wheel_h * rng.uniform(0.08, 0.2)))
    sh, sw = strip.shape[:2]
    x0 = int(cx - sw / 2)
    y0 = int(cy - radius * rng.uniform(0.3, 0.45) - sh / 2)
    frame_col = (int(rng.integers(0, 70)),) * 3
    cv2.rectangle(canvas, (x0 - frame, y0 - frame), (x0 + sw + frame - 1, y0 + sh + frame - 1), frame_col, -1)
    canvas[y0 : y0 + sh, x0 : x0 + sw] = strip
    quad = np.array(
        [
            (x0 - frame, y0 - frame),
            (x0 + sw + frame, y0 - frame),
            (x0 + sw + frame, y0 + sh + frame),
            (x0 - frame, y0 + sh + frame),
        ],
        np.float32,
    )
    font = fonts[rng.integers(len(fonts))]
    th = max(6, int(wheel_h * rng.uniform(0.25, 0.35)))
    _put_text(canvas, font, "m3", x0 + sw + 2 * frame, y0 + sh // 4, th, (30, 30, 30), centre=False)
    _put_text(
        canvas,
        font,
        ["LXS-15E", "DN15", "DN20 Q3 2.5", "Class B"][rng.integers(4)],
        cx,
        y0 - frame - 1.4 * th,
        th,
        (50, 50, 50),
    )

    # Four dials, x0.1 ... x0.0001, in a row or on an arc below the window; either end may be x0.1.
    positions = dial_positions(value)
    layout = "row" if rng.random() < 0.5 else "arc"
    coarse_left = bool(rng.random() < 0.5)
    r_dial = radius * rng.uniform(0.1, 0.14)
    if layout == "row":
        gap = r_dial * rng.uniform(2.35, 2.8)
        yd = cy + radius * rng.uniform(0.22, 0.4)
        centres = [(cx + (i - 1.5) * gap, yd) for i in range(4)]
    else:
        arc_r = radius * rng.uniform(0.52, 0.62)
        spread = rng.uniform(95.0, 125.0)
        angles = np.radians(90 + np.linspace(spread / 2, -spread / 2, 4))  # left to right, lower half
        centres = [(cx + arc_r * math.cos(a), cy + arc_r * math.sin(a) * 0.9) for a in angles]
    if not coarse_left:
        centres = centres[::-1]
    look = _random_look(rng, face)
    if with_dials:
        for i, (dx, dy) in enumerate(centres):
            _draw_dial(canvas, rng, font, dx, dy, r_dial, positions[i], look)
            label = "×" + DIAL_LABELS[i]
            lh = look["label_h"] * r_dial
            if look["label_inside"]:
                _put_text(canvas, font, label, dx, dy + 0.4 * r_dial, 0.6 * lh, look["ink"])
            else:
                col = look["red"] if look["label_red"] else look["ink"]
                _put_text(canvas, font, label, dx, dy + r_dial + 0.75 * lh, lh, col)
    if rng.random() < 0.5:
        _red_star(
            canvas,
            cx + radius * rng.uniform(-0.1, 0.1),
            cy + radius * 0.02,
            radius * 0.06,
            look["ink"],
            look["red"],
        )
    serial = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(6, 11))))
    _put_text(canvas, font, serial, cx, cy - radius * 0.82, th, (40, 40, 40))
    if rng.random() < p.dirt_prob:
        for _ in range(int(rng.integers(3, 12))):
            overlay = canvas.copy()
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(2, 10)), int(rng.integers(2, 7)))
            cv2.ellipse(overlay, c, axes, float(rng.uniform(0, 180)), 0, 360, (60, 70, 80), -1)
            canvas = cv2.addWeighted(overlay, 0.4, canvas, 0.6, 0)

    photo, hm = photograph(rng, canvas, bg, p)
    ok, buf = cv2.imencode(
        ".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(p.min_jpeg_quality, 96))]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    mapped_quad = cv2.perspectiveTransform(quad[None], hm)[0]
    ring = np.linspace(0, 2 * math.pi, 16, endpoint=False)
    dial_c, dial_r = [], []
    for dx, dy in centres:
        pts = np.array(
            [[(dx, dy)] + [(dx + r_dial * math.cos(a), dy + r_dial * math.sin(a)) for a in ring]], np.float32
        )
        m = cv2.perspectiveTransform(pts, hm)[0]
        dial_c.append((float(m[0, 0]), float(m[0, 1])))
        dial_r.append(float(np.linalg.norm(m[1:] - m[0], axis=1).mean()))
    truth = DialTruth(
        value_m3=value,
        n_wheels=n,
        wheel_reading=str(shown_reading(value, n)).zfill(n),
        dial_positions=positions if with_dials else [],
        dial_digits="".join(str(int(q)) for q in positions) if with_dials else "",
        dial_centres=dial_c if with_dials else [],
        dial_radii=dial_r if with_dials else [],
        window_quad=[(float(x), float(y)) for x, y in mapped_quad],
        layout=layout,
        coarse_left=coarse_left,
    )
    return buf.tobytes(), truth
