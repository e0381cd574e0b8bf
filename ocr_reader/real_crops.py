"""Real single-wheel crops (haverland's Tenth-of-step collection) for training and validation.

The archive `wheel-crops-haverland.tar.gz` (Apache-2.0, github.com/haverland/Tenth-of-step-of-a-meter-digit)
holds `images/collected/<kind>/<maker>/<label>_<hash>.jpg`; the label is the wheel position in tenths
(`7.3` = 30 % of the way from 7 to 8). Only training and the bench read it; the product never does.
Makers are split: the model trains on some and is validated and calibrated on the others
(`HELD_OUT_MAKERS`), so the figures on them say how it reads wheels of a make it never saw.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass

import cv2
import numpy as np

from ocr_reader.wheels import normalise, normalise_batch


def _default_data_dir() -> str:
    """../shared/data beside the repository (or beside the folder of git worktrees holding it)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    near = [os.path.join(repo, *[".."] * up, "shared", "data") for up in (1, 2)]
    return os.path.normpath(next((d for d in near if os.path.isdir(d)), near[0]))


DATA_DIR = os.environ.get("WM_OCR_DATA_DIR") or _default_data_dir()
ARCHIVE = "wheel-crops-haverland.tar.gz"
# Seven-segment displays, not wheels (the reader reads mechanical counters only).
EXCLUDED = (
    "lcd",
    "lcd2",
    "watermeter/watermeter_lcd",
    "watermeter/Metrona",
    "powermeter/LandisGyrT330_C",
    "powermeter/emeter1",
)
# One make collected twice under two folder names.
MAKER_ALIASES = {"powermeter/ISKRA.T3F-01S1_20250630": "powermeter/ISKRA T3F-01S1"}
# Never trained on: validation and review-threshold calibration only (water, gas and power makes).
HELD_OUT_MAKERS = (
    "watermeter/altair",
    "watermeter/integra",
    "watermeter/jvi",
    "watermeter/Wasser_Geraete_GmbH",
    "gasmeter/rockberte",
    "powermeter/Heliowatt",
    "powermeter/betar",
)


@dataclass
class CropSet:
    """Normalised crops (N x CROP_H x CROP_W uint8), raw BGR crops, positions (0..10) and makers."""

    x: np.ndarray
    raw: list[np.ndarray]
    y: np.ndarray
    maker: list[str]


def archive_path(data_dir: str | None = None) -> str:
    """Where the crop archive is expected; FileNotFoundError names the source when it is missing."""
    path = os.path.join(data_dir or DATA_DIR, ARCHIVE)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} is missing: the real wheel crops come from github.com/haverland/"
            "Tenth-of-step-of-a-meter-digit (Apache-2.0); set WM_OCR_DATA_DIR to the folder holding "
            f"{ARCHIVE}"
        )
    return path


def maker_of(member: str) -> str | None:
    """'images/collected/<kind>/<maker>/...jpg' -> '<kind>/<maker>' ('new' has no maker folder)."""
    parts = member.split("/")
    if len(parts) < 4 or parts[0] != "images" or parts[1] != "collected":
        return None
    kind = parts[2]
    if kind in EXCLUDED:
        return None
    maker = kind if len(parts) == 4 else f"{kind}/{parts[3].strip()}"
    maker = MAKER_ALIASES.get(maker, maker)
    return None if maker in EXCLUDED else maker


def label_of(member: str) -> float | None:
    """The wheel position in the file name ('7.3_hash.jpg' -> 7.3), None when it is not 0 <= p < 10."""
    head = member.rsplit("/", 1)[-1].split("_", 1)[0]
    try:
        value = float(head)
    except ValueError:
        return None
    return value if 0.0 <= value < 10.0 else None


def load(held_out: bool | None = None, data_dir: str | None = None) -> CropSet:
    """Crops of the held-out makers (True), the training makers (False) or all (None)."""
    xs, raws, ys, makers = [], [], [], []
    with tarfile.open(archive_path(data_dir), "r:gz") as tar:
        for m in tar:
            if not m.isfile() or not m.name.endswith(".jpg"):
                continue
            maker, label = maker_of(m.name), label_of(m.name)
            if maker is None or label is None:
                continue
            if held_out is not None and (maker in HELD_OUT_MAKERS) != held_out:
                continue
            f = tar.extractfile(m)
            if f is None:
                continue
            img = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
            if img is None or min(img.shape[:2]) < 8:
                continue
            xs.append(normalise(img))
            raws.append(img)
            ys.append(label)
            makers.append(maker)
    return CropSet(np.stack(xs), raws, np.array(ys, np.float32), makers)


def straddling(raw: list[np.ndarray], maker: list[str], n: int, seed: int) -> np.ndarray:
    """Junk from real wheels: two crops of one make side by side, cut across the gap between them.

    A cut 30-70 % of a pitch off a wheel's centre shows halves of two wheels: the recogniser must
    call that junk, not a digit, on real wheel faces as it does on renders.
    """
    rng = np.random.default_rng(seed)
    by_maker: dict[str, list[int]] = {}
    for i, m in enumerate(maker):
        by_maker.setdefault(m, []).append(i)
    groups = [g for g in by_maker.values() if len(g) >= 2]
    out = []
    for _ in range(n):
        g = groups[int(rng.integers(len(groups)))]
        a, b = (raw[int(i)] for i in rng.choice(g, 2, replace=False))
        h = max(a.shape[0], b.shape[0])
        a = cv2.resize(a, (max(4, round(a.shape[1] * h / a.shape[0])), h))
        b = cv2.resize(b, (max(4, round(b.shape[1] * h / b.shape[0])), h))
        pair = np.hstack([a, b])
        w = a.shape[1]
        x0 = int(round(w * rng.uniform(0.3, 0.7)))
        out.append(normalise(pair[:, x0 : x0 + w]))
    return np.stack(out)


def composite_rows(
    raw: list[np.ndarray], y: np.ndarray, maker: list[str], n_rows: int, seed: int, photo: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Crops cut the way the reader cuts, from counter rows laid out of real wheels of one make.

    The reader slices a rectified window into pitch-wide crops that hold a little of the frame,
    the neighbours and the gaps between wheels; the collection's crops are tight single wheels.
    Rows of 4-8 real wheels side by side (dividers, a frame band above and below) are sliced at
    each wheel's centre (a little off, as a real cut is) with the wheel's label, and between
    wheels or beyond the row's ends as junk. Returns normalised crops and labels (JUNK = -1).

    photo=True: the row as a phone photo and the reader's locator show it (`photo_view`): dimmed,
    glared, tinted, blurred, at a low resolution, JPEG'd, and cut less exactly (the window's centre
    line a little off, the cut ±12 % of the pitch off the wheel's centre, its width ±12 %). The
    default draws nothing more from the random stream: the same seed makes the same crops as before.
    """
    from ocr_reader.recognise import JUNK

    rng = np.random.default_rng(seed)
    by_maker: dict[str, list[int]] = {}
    for i, m in enumerate(maker):
        by_maker.setdefault(m, []).append(i)
    groups = [g for g in by_maker.values() if len(g) >= 8]
    xs: list[np.ndarray] = []
    ys: list[float] = []
    for _ in range(n_rows):
        g = groups[int(rng.integers(len(groups)))]
        picks = [int(i) for i in rng.choice(g, int(rng.integers(4, 9)), replace=False)]
        h = int(rng.integers(36, 64))
        gap = int(round(h * rng.uniform(0.0, 0.2)))
        band = int(round(h * rng.uniform(0.05, 0.3)))
        colour = rng.integers(0, 256, 3).astype(np.uint8)
        wheels = [
            cv2.resize(raw[i], (max(6, round(raw[i].shape[1] * h / raw[i].shape[0])), h)) for i in picks
        ]
        pieces, centres, x = [], [], 0
        edge = np.full((h, max(2, h // 3), 3), colour, np.uint8)  # the window's side frame
        pieces.append(edge)
        x += edge.shape[1]
        for k, wheel in enumerate(wheels):
            if k:
                pieces.append(np.full((h, gap, 3), colour // 2, np.uint8))
                x += gap
            pieces.append(wheel)
            centres.append((x + wheel.shape[1] / 2, wheel.shape[1]))
            x += wheel.shape[1]
        pieces.append(edge)
        row = np.hstack(pieces)
        top = bottom = band
        off_max, width_max = 0.08, 0.08
        if photo:  # the locator's window is not centred on the wheels exactly; cuts are looser
            skew = int(round(h * rng.uniform(-PHOTO_SKEW, PHOTO_SKEW)))
            top, bottom = max(0, band + skew), max(0, band - skew)
            off_max, width_max = PHOTO_OFFSET, PHOTO_WIDTH
        row = cv2.copyMakeBorder(row, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=colour.tolist())
        clean = row
        if photo:
            row = photo_view(row, rng)
        pitch = float(np.mean([w for _, w in centres])) + gap
        for (cx, _), i in zip(centres, picks, strict=True):
            off = rng.uniform(-off_max, off_max) * pitch
            cut_x, cut_w = cx + off, pitch * rng.uniform(1 - width_max, 1 + width_max)
            crop = _slice(row, cut_x, cut_w)
            if photo and not legible(crop, _slice(clean, cut_x, cut_w)):
                continue  # the photo's damage hid the digit: no label can be taught from it
            xs.append(crop)
            ys.append(float(y[i]))
        for _ in range(2):  # between two wheels, or past an end: not one wheel
            k = int(rng.integers(len(centres)))
            side = rng.choice([-1, 1])
            xs.append(_slice(row, centres[k][0] + side * rng.uniform(0.4, 0.6) * pitch, pitch))
            ys.append(JUNK)
    return normalise_batch(xs), np.array(ys, np.float32)


PHOTO_SKEW = 0.03  # photo=True: the window's centre line off the wheels' by up to this share of their height
PHOTO_OFFSET = 0.12  # photo=True: a wheel's cut off its centre by up to this share of the pitch
PHOTO_WIDTH = 0.12  # photo=True: a wheel's cut this share wider or narrower than the pitch


LEGIBLE = 0.6  # photo=True keeps a wheel's crop whose normalised view correlates this well with the clean one


def legible(crop: np.ndarray, clean: np.ndarray) -> bool:
    """The damaged crop still shows the clean crop's digit (normalised views correlate >= LEGIBLE)."""
    a, b = (v.astype(np.float32).ravel() for v in normalise_batch([crop, clean]))
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b) >= LEGIBLE * float(np.sqrt((a @ a) * (b @ b))) + 1e-6


def photo_view(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real row (BGR) as a resident's phone photo shows it: some of dimmed, washed out, tinted
    (red decimal wheels, warm or cold light), a glare spot, blur, a low resolution, noise, JPEG."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    if rng.random() < 0.5:  # dim, or washed out towards grey
        f = f * rng.uniform(0.35, 1.0) + rng.uniform(0, 40)
    if rng.random() < 0.3:  # low contrast
        a = rng.uniform(0.5, 0.9)
        f = f * a + f.mean() * (1 - a)
    if rng.random() < 0.4:  # colour cast: light, or a red panel / red wheels
        f = f * rng.uniform(0.65, 1.25, 3)[None, None, :].astype(np.float32)
    if rng.random() < 0.25:  # a glare spot
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        sig = h * rng.uniform(0.25, 0.7)
        f = f + rng.uniform(60, 200) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sig * sig))[..., None]
    if rng.random() < 0.4:  # a uniform shadow over one side
        ramp = np.linspace(rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0), w, dtype=np.float32)
        f = f * ramp[None, :, None]
    img = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # a small window in a large photo: few pixels per wheel
        s = rng.uniform(0.35, 0.8)
        small = cv2.resize(img, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.4:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 10), img.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            img = decoded.astype(np.uint8)
    return img


def _slice(row: np.ndarray, centre_x: float, width: float) -> np.ndarray:
    """A crop of the full row height, width wide around centre_x, padded by repeating the edge."""
    pad = int(width) + 2
    padded = cv2.copyMakeBorder(row, 0, 0, pad, pad, cv2.BORDER_REPLICATE)
    x0 = int(round(centre_x - width / 2)) + pad
    return padded[:, max(0, x0) : x0 + max(4, int(round(width)))]
