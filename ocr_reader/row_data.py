"""Counter rows with known readings, for training and validating the row reader (rowread.py).

Two sources, both laid out the same way: rendered wheels (synth.py fonts and styles) and real wheel
crops of one make (real_crops.py) side by side. Each row sits in a window frame on a meter face with
print around it ("m3", labels, a serial number above or below), and is cut out the way the reader
cuts a window out of a photo: ends anywhere from a little inside the outer wheels to more than a
pitch beyond them, top and bottom a little inside the window or well outside it, slightly turned,
then blurred, noised and JPEG-compressed. The label is each wheel's half-digit class, left to right.
"""

from __future__ import annotations

import cv2
import numpy as np

from ocr_reader.rowread import label_class
from ocr_reader.synth import (
    _text,
    available_fonts,
    random_value,
    random_wheel_style,
    render_wheel,
    wheel_positions,
)

WHEEL_H_PX = 48  # wheels are laid out at this height, then the cut strip is scaled freely
NEAR_TEXT = ("m3", "M3", "m", "kWh", "x0.1", "x1", "<", ">", "m3/h", "l", "0,1", "1/10", "|", "-")
END_CUT = (-0.12, 1.5)  # how far the cut reaches beyond an end wheel, in pitches (negative: inside it)
EDGE_CUT = (-0.1, 0.45)  # how far the cut reaches above or below the wheels, in wheel heights


def _colour(rng: np.random.Generator, dark_share: float) -> np.ndarray:
    if rng.random() < dark_share:
        return rng.integers(0, 70, 3).astype(np.uint8)
    if rng.random() < 0.7:
        v = int(rng.integers(150, 256))
        return np.clip(np.array([v, v, v]) - rng.integers(0, 30, 3), 0, 255).astype(np.uint8)
    return rng.integers(0, 256, 3).astype(np.uint8)


def lay_out(
    wheels: list[np.ndarray], rng: np.random.Generator, fonts: list[str]
) -> tuple[np.ndarray, tuple[float, float, float, float], float]:
    """Wheels (one height) in a framed window on a meter face: (scene, wheels' box x0 y0 x1 y1, pitch)."""
    h = wheels[0].shape[0]
    mean_w = float(np.mean([w.shape[1] for w in wheels]))
    frame = _colour(rng, 0.65)
    divider = frame if rng.random() < 0.5 else _colour(rng, 0.7)
    gap = int(round(mean_w * rng.uniform(0.0, 0.3)))
    # Decimal wheels sometimes sit in a box of their own: a wider gap before them.
    split_at = int(rng.integers(1, len(wheels))) if rng.random() < 0.25 else -1
    split_gap = int(round(h * rng.uniform(0.1, 0.5)))
    pieces = []
    for k, wheel in enumerate(wheels):
        if k:
            g = split_gap if k == split_at else gap
            pieces.append(np.broadcast_to(divider, (h, g, 3)))
        pieces.append(wheel)
    row = np.hstack(pieces) if gap or split_at > 0 else np.hstack(wheels)
    band_y = int(round(h * rng.uniform(0.04, 0.35)))
    band_x = int(round(h * rng.uniform(0.08, 0.6)))
    face = _colour(rng, 0.25)
    pad_x, pad_y = int(2.2 * (mean_w + gap)) + band_x, int(0.7 * h) + band_y
    framed = cv2.copyMakeBorder(
        row, band_y, band_y, band_x, band_x, cv2.BORDER_CONSTANT, value=frame.tolist()
    )
    scene = cv2.copyMakeBorder(
        framed, pad_y, pad_y, pad_x - band_x, pad_x - band_x, cv2.BORDER_CONSTANT, value=face.tolist()
    )
    scene = np.ascontiguousarray(scene)
    x0, y0 = pad_x, pad_y + band_y
    x1, y1 = x0 + row.shape[1], y0 + h
    ink = (np.array([255, 255, 255]) - face).clip(0, 255) if face.mean() < 110 else rng.integers(0, 80, 3)
    ink_t = tuple(int(c) for c in ink)
    th = int(h * rng.uniform(0.3, 0.7))
    if rng.random() < 0.6:  # a unit or mark just after the window
        _text(
            scene,
            rng,
            fonts,
            str(rng.choice(NEAR_TEXT)),
            x1 + band_x + int(h * rng.uniform(0.05, 0.4)),
            y0 + int(h * rng.uniform(0.0, 0.5)),
            th,
            ink_t,
        )
    if rng.random() < 0.2:
        _text(
            scene,
            rng,
            fonts,
            str(rng.choice(NEAR_TEXT)),
            x0 - band_x - int(h * rng.uniform(0.6, 1.2)),
            y0 + int(h * 0.2),
            th,
            ink_t,
        )
    for above in (True, False):  # print above or below the window (labels, serial numbers)
        if rng.random() < 0.4:
            n = int(rng.integers(3, 10))
            text = "".join(str(d) for d in rng.integers(0, 10, n)) if rng.random() < 0.6 else "Qn 2,5 m3/h"
            y = (
                y0 - band_y - int(th * rng.uniform(1.1, 2.0))
                if above
                else y1 + band_y + int(th * rng.uniform(0.2, 0.9))
            )
            _text(scene, rng, fonts, text, x0 + int(rng.uniform(-1, 2) * mean_w), y, th, ink_t)
    return scene, (x0, y0, x1, y1), mean_w + gap


def cut(
    scene: np.ndarray, box: tuple[float, float, float, float], pitch: float, rng: np.random.Generator
) -> np.ndarray:
    """The strip a reader would cut around the wheels: random ends, slight turn, at a random size."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    if rng.random() < 0.3:  # a tight window (an outline around the wheels)
        ml, mr = rng.uniform(-0.12, 0.2, 2) * pitch
    else:
        ml, mr = rng.uniform(*END_CUT, 2) * pitch
    mt, mb = rng.uniform(*EDGE_CUT, 2) * h
    quad = np.array(
        [[x0 - ml, y0 - mt], [x1 + mr, y0 - mt], [x1 + mr, y1 + mb], [x0 - ml, y1 + mb]], np.float32
    )
    quad += rng.normal(0, 0.03 * h, quad.shape).astype(np.float32)  # a little perspective
    ang = np.radians(rng.uniform(-3, 3))
    c = quad.mean(axis=0)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
    quad = (quad - c) @ rot.T + c
    out_h = int(rng.integers(14, 72))
    out_w = max(8, int(round(out_h * np.linalg.norm(quad[1] - quad[0]) / np.linalg.norm(quad[3] - quad[0]))))
    dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad, dst)
    return cv2.warpPerspective(
        scene, m, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def degrade(strip: np.ndarray, rng: np.random.Generator, wheel_h_px: float | None = None) -> np.ndarray:
    """Photo faults: light gradient, glare, blur (up to 1.2 px per 32 px of wheel height), noise, JPEG."""
    s = strip.astype(np.float32)
    h, w = s.shape[:2]
    wheel_h_px = h if wheel_h_px is None else wheel_h_px
    ramp = np.linspace(rng.uniform(0.55, 1.1), rng.uniform(0.55, 1.1), w, dtype=np.float32)
    s *= ramp[None, :, None]
    if rng.random() < 0.3:
        gx, gy = rng.uniform(0, w), rng.uniform(0, h)
        sx, sy = rng.uniform(0.05, 0.3) * w, rng.uniform(0.2, 1.0) * h
        xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        s += (rng.uniform(40, 160) * np.exp(-(((xx - gx) / sx) ** 2 + ((yy - gy) / sy) ** 2)))[..., None]
    sigma = rng.uniform(0, 1.2) * wheel_h_px / 32
    if sigma > 0.3:
        s = cv2.GaussianBlur(s, (0, 0), sigma)
    s += rng.normal(0, rng.uniform(0, 10), s.shape).astype(np.float32)
    out = np.clip(s, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 96))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else out


def rendered_row(rng: np.random.Generator, font_set: str = "wide") -> tuple[np.ndarray, list[int]]:
    """A row of rendered wheels (synth styles, true carry) cut as a strip, with its label classes."""
    fonts = available_fonts(font_set)
    n = int(rng.integers(4, 9))
    n_red = int(rng.integers(0, min(4, n - 1) + 1))
    positions = wheel_positions(random_value(rng, n), n)
    style = random_wheel_style(rng, fonts, heldout=font_set == "heldout", augment=font_set == "wide")
    h = WHEEL_H_PX
    w = int(round(h * rng.uniform(0.5, 0.85)))
    wheels = [render_wheel(style, p, i >= n - n_red, w, h) for i, p in enumerate(positions)]
    scene, box, pitch = lay_out(wheels, rng, fonts)
    return degrade(cut(scene, box, pitch, rng), rng), [label_class(p) for p in positions]


def real_row(
    rng: np.random.Generator, raw: list[np.ndarray], y: np.ndarray, group: list[int], fonts: list[str]
) -> tuple[np.ndarray, list[int]]:
    """A row of 4-8 real wheel crops of one make (indices in group) cut as a strip, with its labels."""
    picks = [int(i) for i in rng.choice(group, int(rng.integers(4, 9)), replace=len(group) < 8)]
    h = WHEEL_H_PX
    aspect = float(np.median([raw[i].shape[1] / raw[i].shape[0] for i in picks]))
    w = max(8, int(round(h * aspect * rng.uniform(0.9, 1.1))))
    wheels = [cv2.resize(raw[i], (w, h), interpolation=cv2.INTER_AREA) for i in picks]
    scene, box, pitch = lay_out(wheels, rng, fonts)
    return degrade(cut(scene, box, pitch, rng), rng), [label_class(float(y[i])) for i in picks]


def real_rows(
    raw: list[np.ndarray], y: np.ndarray, maker: list[str], n_rows: int, seed: int
) -> list[tuple[np.ndarray, list[int]]]:
    """n_rows rows of real wheels, each of one make (makes drawn equally, so small ones count too)."""
    rng = np.random.default_rng(seed)
    fonts = available_fonts("train")
    by_maker: dict[str, list[int]] = {}
    for i, m in enumerate(maker):
        by_maker.setdefault(m, []).append(i)
    groups = [g for g in by_maker.values() if len(g) >= 4]
    return [real_row(rng, raw, y, groups[int(rng.integers(len(groups)))], fonts) for _ in range(n_rows)]


def rendered_rows(n_rows: int, seed: int, font_set: str = "wide") -> list[tuple[np.ndarray, list[int]]]:
    """n_rows rendered rows."""
    rng = np.random.default_rng(seed)
    return [rendered_row(rng, font_set) for _ in range(n_rows)]


def real_counter(
    rng: np.random.Generator, raw: list[np.ndarray], y: np.ndarray, group: list[int], fonts: list[str]
) -> tuple[np.ndarray, tuple[float, float, float, float], float, int] | None:
    """A counter of real wheels of one make showing a reading with true carry, on a meter face.

    Each wheel is the make's crop whose label is nearest the wheel's position (within 0.15 of a
    digit; None when the make has none). Returns (scene, wheels' box, value in last-wheel units, wheels).
    """
    n = int(rng.integers(4, 9))
    value = random_value(rng, n)
    labels = y[group]
    picks = []
    for p in wheel_positions(value, n):
        dist = np.abs((labels - p + 5) % 10 - 5)
        near = np.flatnonzero(dist <= min(0.15, float(dist.min()) + 0.05))
        if not len(near):
            return None
        picks.append(group[int(rng.choice(near))])
    h = WHEEL_H_PX
    aspect = float(np.median([raw[i].shape[1] / raw[i].shape[0] for i in picks]))
    w = max(8, int(round(h * aspect)))
    wheels = [cv2.resize(raw[i], (w, h), interpolation=cv2.INTER_AREA) for i in picks]
    scene, box, _ = lay_out(wheels, rng, fonts)
    return scene, box, value, n


def counter_photo(
    rng: np.random.Generator, scene: np.ndarray, box: tuple[float, float, float, float]
) -> tuple[bytes, list[tuple[float, float]]]:
    """A photo of the scene (scaled, slightly turned and tilted, photo faults) and a loosely held guided
    frame around the counter (four corners as fractions of the photo)."""
    x0, y0, x1, y1 = box
    h, w = scene.shape[:2]
    scale = rng.uniform(0.6, 1.6)
    out_w, out_h = int(w * scale), int(h * scale)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src * scale + rng.normal(0, 0.03 * min(out_w, out_h), (4, 2)).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(scene, m, (out_w, out_h), borderMode=cv2.BORDER_REPLICATE)
    photo = degrade(warped, rng, wheel_h_px=(y1 - y0) * scale)
    ok, buf = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    rh = y1 - y0
    mx, my = rng.uniform(0.05, 0.3) * rh, rng.uniform(0.05, 0.4) * rh
    frame = np.array(
        [[x0 - mx, y0 - my], [x1 + mx, y0 - my], [x1 + mx, y1 + my], [x0 - mx, y1 + my]], np.float32
    )
    corners = cv2.perspectiveTransform(frame[None], m)[0]
    fx = np.clip(corners[:, 0] / out_w, 0, 1)
    fy = np.clip(corners[:, 1] / out_h, 0, 1)
    return buf.tobytes(), [(float(a), float(b)) for a, b in zip(fx, fy, strict=True)]
