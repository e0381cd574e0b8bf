"""Split a rectified counter window into wheel crops and normalise each for the recogniser."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

CROP_W_PX, CROP_H_PX = 24, 40  # every wheel is normalised to this size before recognition
SIDE_TRIMS = (0.04, 0.09, 0.14, 0.19)  # side frame width as a fraction of window height, tried in turn
WHEEL_COUNTS = (4, 5, 6, 7, 8)


def split(strip: np.ndarray, n_wheels: int, side_trim: float) -> list[np.ndarray]:
    """Cut the strip (frame included) into n_wheels equal crops after trimming the side frame."""
    h, w = strip.shape[:2]
    trim = int(round(side_trim * h))
    inner_w = w - 2 * trim
    if inner_w < n_wheels * 4:
        return []
    pitch = inner_w / n_wheels
    return [
        strip[:, int(round(trim + i * pitch)) : int(round(trim + (i + 1) * pitch))] for i in range(n_wheels)
    ]


RED_MARGIN = 40  # red above both green and blue, 0..255
RED_FACE_SHARE = 0.08  # share of the centre that is red: a red wheel face (or bold red digits)
RED_GLYPH_SHARE = 0.5  # share of the digit's own pixels that are red: thin red digits on a light face
GLYPH_MARGIN = 30  # redness needed of a digit pixel (faded, glared red digits are pinkish)
# ...on a white or light face, less: a water meter's thin red digits, faded pink, measured 20-32 over
# their white faces (at 30, one of a dev photo's three red wheels was black and its point in doubt).
# A dark face keeps the full margin: a black wheel in warm light is as red as a dim red one.
LIGHT_FACE_GLYPH_MARGIN = 20
LIGHT_FACE_MIN = 100  # a face (the median of the centre) this light in green and blue (0..255) is a light one


def is_red(crop_bgr: np.ndarray) -> bool:
    """True for a red (decimal) wheel: a red face, or red digits however thin their strokes."""
    h, w = crop_bgr.shape[:2]
    c = crop_bgr[h // 5 : h - h // 5, w // 6 : w - w // 6].astype(np.int16)
    if c.size == 0 or c.ndim != 3:
        return False
    b, g, r = c[..., 0], c[..., 1], c[..., 2]
    redness = r - np.maximum(g, b)
    if (redness > RED_MARGIN).mean() > RED_FACE_SHARE:
        return True
    # The digit's pixels: the darkest quarter in green and blue (red ink is dark there, the face is not).
    gb = np.minimum(g, b)
    glyph = gb <= np.percentile(gb, 25)
    if gb.max() - gb.min() < 40 or not glyph.any() or glyph.all():
        return False
    # Brown print on a beige face is reddish too: the digit must be clearly redder than its face.
    # (The face is most of the centre: its median. White digits on a dark face are the light pixels.)
    margin = LIGHT_FACE_GLYPH_MARGIN if float(np.median(gb)) >= LIGHT_FACE_MIN else GLYPH_MARGIN
    if float(redness[glyph].mean() - redness[~glyph].mean()) < margin:
        return False
    return bool((redness[glyph] > margin).mean() >= RED_GLYPH_SHARE)


RELATIVE_RED = 20  # a wheel this much redder (median) than the row's first half is a red one
# Decimal wheels are often not red themselves (docs/ocr.md, round 5): they sit in a red panel or a
# red frame (red between, above and below them), or carry red digits so thin and so far turned that
# the centre holds little ink. All are measured against the row's first half (integer wheels).
SURROUND_RED = 35  # the crop's edges, on two opposite sides, this much redder: a red panel or frame
RED_INK_SHARE = 0.03  # ...or this much more of the crop's middle columns, any height, clearly red: red digits
# Evidence this far towards red but short of the marks above leaves the decimal point in doubt.
SURROUND_DOUBT = 25
MEDIAN_DOUBT = 15
RED_INK_DOUBT = 0.02
# Red by a mark passed by less than this factor (the wheel's own colour not red) is only just red: a
# black wheel beside red ones gains a few red pixels from the photo's colour subsampling (round 13).
RED_SURE = 1.5
# Before a decimal wheel with a plainly red face (centre RED_SURE x RELATIVE_RED redder than the row's
# first half), red ink alone does not make a wheel red: such a row's decimals are red-faced, and a black
# wheel gains a few red pixels from a rust spot or a red divider beside it (a dev photo rotated 3
# degrees read 06345.720 for 063457.20, its last black wheel red by 6 % of its middle columns against
# the red wheels' 74 %). It is left in doubt, for `pipeline._side_by_redness` to place by its face.
INK_BESIDE_RED_FACES = True


def _redness(crop_bgr: np.ndarray) -> np.ndarray:
    c = crop_bgr.astype(np.int16)
    return c[..., 2] - np.maximum(c[..., 0], c[..., 1])


def _p75(a: np.ndarray) -> float:
    """np.percentile(a, 75) (linear), by one partial sort: several times faster on small bands."""
    flat = a.ravel()
    pos = 0.75 * (flat.size - 1)
    lo = int(pos)
    hi = min(lo + 1, flat.size - 1)
    part = np.partition(flat, (lo, hi))
    return float(part[lo] + (pos - lo) * (float(part[hi]) - float(part[lo])))


def _colour_measures(crop_bgr: np.ndarray) -> tuple[float, float, float]:
    """(median redness of the centre, redness around the wheel, red ink share) of one crop.

    Around the wheel: the 75th percentile of each edge band, on two opposite sides (a panel or frame
    encloses its wheels, while a wheel beside the panel sees its red on one side only). Red ink: the
    share of the middle columns, all the height (a turning wheel's digits sit high or low), clearly red.
    """
    h, w = crop_bgr.shape[:2]
    if crop_bgr.ndim != 3 or crop_bgr.size == 0:
        return 0.0, 0.0, 0.0
    rd = _redness(crop_bgr)
    centre = rd[h // 5 : h - h // 5, w // 6 : w - w // 6]
    median = float(np.median(centre)) if centre.size else 0.0
    middle = rd[:, w // 6 : w - w // 6]
    ink = float((middle > RED_MARGIN).mean()) if middle.size else 0.0
    if h < 5 or w < 6:
        return median, 0.0, ink
    bh, bw = h // 5, w // 6
    left, right, top, bottom = (_p75(band) for band in (rd[:, :bw], rd[:, w - bw :], rd[:bh], rd[h - bh :]))
    return median, float(max(min(left, right), min(top, bottom))), ink


@dataclass
class RedEvidence:
    """Which wheels of a row are red (decimals), and which are neither clearly red nor clearly not."""

    red: list[bool]
    doubtful: list[bool]
    # each wheel's centre redness (median) against the row's first half: how red it is, to compare
    redness: list[float] = field(default_factory=list)
    # red, but only just past a mark (under RED_SURE times it) and not red by its own colour
    marginal: list[bool] = field(default_factory=list)


def red_evidence(crops_bgr: list[np.ndarray]) -> RedEvidence:
    """Red wheels by their own colour (is_red), or, against the row's first half: a redder centre (a dim
    or washed-out photo keeps the hue shift, not the saturation), a red panel or frame around them,
    or red ink anywhere in their middle columns (not before a red-faced wheel: INK_BESIDE_RED_FACES).
    Evidence part way to red is marked doubtful, evidence only just past a mark marginal."""
    if not crops_bgr:
        return RedEvidence([], [])
    half = (len(crops_bgr) + 1) // 2
    raw = [_colour_measures(c) for c in crops_bgr]
    base = np.median(np.array(raw[:half]), axis=0)
    # The first wheel is never a decimal: measured against it too, a row whose first half is mostly
    # decimals (4 of 5 wheels) still shows them; where the two measures disagree the point is in doubt.
    first = np.array(raw[0])
    faces = [i for i, v in enumerate(raw) if v[0] - base[0] > RED_SURE * RELATIVE_RED]
    first_face = faces[0] if INK_BESIDE_RED_FACES and faces else 0
    red: list[bool] = []
    doubtful: list[bool] = []
    redness: list[float] = []
    marginal: list[bool] = []
    for i, (c, v) in enumerate(zip(crops_bgr, raw, strict=True)):
        m, s, k = np.array(v) - base
        own = is_red(c)
        r = own or m > RELATIVE_RED or s > SURROUND_RED or k > RED_INK_SHARE
        plain = m > RED_SURE * RELATIVE_RED or s > RED_SURE * SURROUND_RED or k > RED_SURE * RED_INK_SHARE
        m0, s0, k0 = np.array(v) - first
        if i < first_face and r and not (own or m > RELATIVE_RED or s > SURROUND_RED):
            red.append(False)  # red by ink alone before red faces: in doubt (below)
            redness.append(float(m))
            marginal.append(False)
            doubtful.append(True)
            continue
        red.append(bool(r))
        redness.append(float(m))
        marginal.append(bool(r and not own and not plain))
        doubtful.append(
            bool(
                not r
                and (
                    m > MEDIAN_DOUBT
                    or s > SURROUND_DOUBT
                    or k > RED_INK_DOUBT
                    or m0 > RELATIVE_RED
                    or s0 > SURROUND_RED
                    or k0 > RED_INK_SHARE
                )
            )
        )
    return RedEvidence(red, doubtful, redness, marginal)


def red_wheels(crops_bgr: list[np.ndarray]) -> list[bool]:
    """Which wheels of a row are red (decimals): red_evidence(...).red."""
    return red_evidence(crops_bgr).red


def normalise(crop_bgr: np.ndarray) -> np.ndarray:
    """Grey, contrast-stretched, dark digit on light wheel, CROP_W x CROP_H uint8."""
    return normalise_batch([crop_bgr])[0]


def normalise_batch(crops_bgr: list[np.ndarray]) -> np.ndarray:
    """normalise() of many crops at once (N x CROP_H x CROP_W uint8): one resize each, the rest batched."""
    small = [cv2.resize(crop, (CROP_W_PX, CROP_H_PX), interpolation=cv2.INTER_AREA) for crop in crops_bgr]
    if all(s.ndim == 3 for s in small):
        # Min over channels keeps red digits dark and turns red wheels dark, like black ones
        # (elementwise over the stacked batch: a per-crop .min(axis=2) cost 40 us a crop).
        rgb = np.stack(small)
        grey = np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    else:
        grey = np.stack([s.min(axis=2) if s.ndim == 3 else s for s in small])
    # Order statistics are taken on the uint8 grey (cheaper than on floats); the stretch below is
    # monotone, so the centre's median stretched is the median of the stretched centre.
    flat = grey.reshape(len(grey), -1)
    k_lo, k_hi = int(0.02 * (flat.shape[1] - 1)), int(0.98 * (flat.shape[1] - 1))
    part = np.partition(flat, (k_lo, k_hi), axis=1)  # 2nd and 98th percentiles, cheaper than np.percentile
    lo = part[:, k_lo, None, None].astype(np.float32)
    span = np.maximum(part[:, k_hi, None, None].astype(np.float32) - lo, 8.0)
    g = np.clip((grey.astype(np.float32) - lo) / span, 0, 1)
    centre = grey[:, CROP_H_PX // 4 : -CROP_H_PX // 4, CROP_W_PX // 5 : -CROP_W_PX // 5].reshape(len(g), -1)
    mid = centre.shape[1] // 2
    median = np.partition(centre, mid, axis=1)[:, mid, None, None].astype(np.float32)
    dark = (np.clip((median - lo) / span, 0, 1) < 0.5)[:, 0, 0]  # the wheel face is most of the centre: light
    g[dark] = 1.0 - g[dark]
    return (g * 255).astype(np.uint8)
