"""Render synthetic photos of odometer-style water meters with known readings (training and bench)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_ROOT = "/usr/share/fonts"

# Training and held-out photos use disjoint font families, so the bench measures generalisation.
_TRAIN_DEJAVU = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSans-ExtraLight.ttf",
)
_TRAIN_HERSHEY = ("hershey:simplex", "hershey:duplex", "hershey:triplex")
FONT_SETS = {
    "train": _TRAIN_DEJAVU + _TRAIN_HERSHEY,
    # What `python -m ocr_reader.train` renders: the training families in more faces, with glyph
    # augmentation (see varied_glyph). "train" itself stays as it was so fixtures keep their photos.
    "augmented": _TRAIN_DEJAVU
    + (
        "DejaVuSansMono-Oblique.ttf",
        "DejaVuSansMono-BoldOblique.ttf",
        "DejaVuSans-BoldOblique.ttf",
        "DejaVuSansCondensed.ttf",
        "DejaVuSansCondensed-Oblique.ttf",
        "DejaVuSerifCondensed.ttf",
        "DejaVuSerif-Italic.ttf",
        "DejaVuSerif-BoldItalic.ttf",
    )
    + _TRAIN_HERSHEY
    + ("hershey:simplex_italic", "hershey:duplex_italic", "hershey:triplex_italic"),
    # Many more families for the model (`make ocr-model` installs TRAIN_FONT_PACKAGES): sans, DIN
    # and road-sign faces like those printed on meter wheels, monospace, slab and serif faces.
    # None is a clone of a held-out family (no Arimo/Tinos/Cousine, FreeFont, URW or TeX Gyre).
    "wide": _TRAIN_DEJAVU
    + (
        "DejaVuSansMono-Oblique.ttf",
        "DejaVuSansCondensed.ttf",
        "DejaVuSerif-Italic.ttf",
    )
    + _TRAIN_HERSHEY
    + ("hershey:simplex_italic", "hershey:duplex_italic", "hershey:triplex_italic")
    + (
        "Go-Regular.ttf",
        "Go-Bold.ttf",
        "Go-Mono.ttf",
        "Go-Medium-Italic.ttf",
        "B612-Regular.otf",
        "B612-Bold.otf",
        "B612Mono-Regular.otf",
        "Cabin-Regular.otf",
        "Cabin-Bold.otf",
        "Cantarell-Regular.otf",
        "Cantarell-Bold.otf",
        "Dosis-Medium.otf",
        "Dosis-Bold.otf",
        "Inter-Regular.otf",
        "Inter-Bold.otf",
        "Inter-Light.otf",
        "Jura-Medium.otf",
        "Jura-Bold.otf",
        "LeagueMono-Regular.otf",
        "LeagueMono-CondensedBold.otf",
        "LeagueMono-WideRegular.otf",
        "LeagueSpartan-Regular.otf",
        "LeagueSpartan-Bold.otf",
        "NationalPark-Regular.otf",
        "NationalPark-Heavy.otf",
        "OCRB.otf",
        "Play-Regular.otf",
        "Play-Bold.otf",
        "RobotoSlab-Regular.otf",
        "RobotoSlab-Bold.otf",
        "Sora-Regular.otf",
        "Sora-Bold.otf",
        "Beteckna.ttf",
        "BetecknaGSCondensed-Bold.ttf",
        "ClearSans-Regular.ttf",
        "ClearSans-Bold.ttf",
        "cmunrm.ttf",
        "cmunbx.ttf",
        "cmuntt.ttf",
        "cmunss.ttf",
        "FiraCode-Regular.ttf",
        "FiraCode-Bold.ttf",
        "OldStandard-Regular.ttf",
        "OldStandard-Bold.ttf",
        "Hack-Regular.ttf",
        "Hack-Bold.ttf",
        "Inconsolata.otf",
        "JetBrainsMono-Regular.ttf",
        "JetBrainsMono-ExtraBold.ttf",
        "Karla-Regular.otf",
        "Karla-Bold.otf",
        "Lato-Regular.ttf",
        "Lato-Black.ttf",
        "Lato-Light.ttf",
        "Manrope-Regular.ttf",
        "Manrope-ExtraBold.ttf",
        "NotoSansMono-Regular.ttf",
        "NotoSansMono-Bold.ttf",
        "OpenSans-Regular.ttf",
        "OpenSans-Bold.ttf",
        "OpenSans-CondBold.ttf",
        "OSP-DIN.ttf",
        "Oxygen-Sans.ttf",
        "Oxygen-Sans-Bold.ttf",
        "OxygenMono-Regular.ttf",
        "RG2014C.ttf",
        "RG2014E.ttf",
        "Roboto-Regular.ttf",
        "Roboto-Black.ttf",
        "RobotoCondensed-Regular.ttf",
        "RobotoCondensed-Bold.ttf",
        "routed-gothic.ttf",
        "routed-gothic-narrow.ttf",
        "tiresias_infofont.ttf",
        "tiresias_signfont_bold.ttf",
    ),  # fmt: skip
    "heldout": (
        "LiberationSans-Regular.ttf",
        "LiberationSans-Bold.ttf",
        "LiberationMono-Regular.ttf",
        "LiberationSerif-Bold.ttf",
        "LiberationSansNarrow-Bold.ttf",
        "pil:default",
        "hershey:complex",
        "hershey:plain",
    ),
}
TRAINING_SETS = ("train", "augmented", "wide")  # everything else is held out (wider style ranges off)
AUGMENTED_SETS = ("augmented", "wide")  # these also vary stroke weight, slant and width
# Debian packages holding the "wide" set's faces (`make ocr-model` installs them).
TRAIN_FONT_PACKAGES = (
    "fonts-dejavu fonts-go fonts-b612 fonts-cabin fonts-cantarell fonts-dosis fonts-inter fonts-jura "
    "fonts-league-mono fonts-league-spartan fonts-national-park fonts-ocr-b fonts-play fonts-roboto-slab "
    "fonts-sora fonts-beteckna fonts-clear-sans fonts-cmu fonts-firacode fonts-oldstandard fonts-hack "
    "fonts-inconsolata fonts-jetbrains-mono fonts-karla fonts-lato fonts-manrope fonts-noto-mono "
    "fonts-open-sans fonts-opendin fonts-oxygen fonts-roadgeek fonts-roboto-unhinted fonts-routed-gothic "
    "fonts-tiresias"
).split()

_HERSHEY = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
    "simplex_italic": cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
    "duplex_italic": cv2.FONT_HERSHEY_DUPLEX | cv2.FONT_ITALIC,
    "triplex_italic": cv2.FONT_HERSHEY_TRIPLEX | cv2.FONT_ITALIC,
}


def available_fonts(font_set: str) -> list[str]:
    """Font keys of a set that exist on this machine (Hershey and PIL's default always do)."""
    out = []
    for key in FONT_SETS[font_set]:
        if ":" in key:
            out.append(key)
            continue
        if key in _installed_fonts():
            out.append(key)
    return out


@lru_cache(maxsize=1)
def _installed_fonts() -> dict[str, str]:
    """Font file name -> path for every TrueType/OpenType file under FONT_ROOT (first one wins)."""
    found: dict[str, str] = {}
    for d, _, files in sorted(os.walk(FONT_ROOT)):
        for f in sorted(files):
            if f.endswith((".ttf", ".otf")):
                found.setdefault(f, os.path.join(d, f))
    return found


def _font_path(name: str) -> str:
    try:
        return _installed_fonts()[name]
    except KeyError:
        raise FileNotFoundError(name) from None


@lru_cache(maxsize=4096)
def glyph(font_key: str, text: str, thickness: int = 2) -> np.ndarray:
    """A tight uint8 coverage mask (255 = ink) of text in a font, rendered about 64 px high."""
    if font_key.startswith("hershey:"):
        face = _HERSHEY[font_key.split(":", 1)[1]]
        scale = 2.4 if face != cv2.FONT_HERSHEY_PLAIN else 4.8
        thickness = max(1, thickness)
        (w, h), base = cv2.getTextSize(text, face, scale, thickness)
        canvas = np.zeros((h + base + 20, w + 20), np.uint8)
        cv2.putText(canvas, text, (10, h + 10), face, scale, 255, thickness, cv2.LINE_AA)
    else:
        font = (
            ImageFont.load_default(size=72)
            if font_key == "pil:default"
            else ImageFont.truetype(_font_path(font_key), 72)
        )
        img = Image.new("L", (72 * max(1, len(text)) + 40, 120), 0)
        ImageDraw.Draw(img).text((20, 10), text, fill=255, font=font)
        canvas = np.asarray(img)
    ys, xs = np.nonzero(canvas > 20)
    return np.ascontiguousarray(canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


@lru_cache(maxsize=16384)
def varied_glyph(font_key: str, text: str, thickness: int, stroke_px: int, slant_10: int) -> np.ndarray:
    """A glyph with its strokes made thicker (> 0) or thinner (< 0) and slanted by slant_10 / 10.

    Training-only augmentation: other fonts differ from the training ones mostly in stroke weight,
    width and slant, so the recogniser sees a continuum of these instead of a handful of faces.
    """
    g = glyph(font_key, text, thickness)
    if stroke_px:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(stroke_px) + 1,) * 2)
        g = np.pad(g, abs(stroke_px) + 1)
        g = cv2.dilate(g, k) if stroke_px > 0 else cv2.erode(g, k)
    if slant_10:
        h, w = g.shape
        shear = slant_10 / 10.0
        pad = int(abs(shear) * h) + 2
        m = np.array([[1, -shear, shear * h if shear > 0 else 0], [0, 1, 0]], np.float32)
        g = cv2.warpAffine(g, m, (w + pad, h))
    ys, xs = np.nonzero(g > 20)
    if len(ys) == 0:  # thinned away: keep the plain glyph
        return glyph(font_key, text, thickness)
    return np.ascontiguousarray(g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def wheel_positions(value_units: float, n_wheels: int) -> list[float]:
    """Continuous wheel positions (0..10), most significant first, with true odometer carry."""
    positions = []
    below_pos = None
    for k in range(n_wheels):
        digit = math.floor(value_units / 10**k) % 10
        if k == 0:
            pos = digit + (value_units - math.floor(value_units))
        else:
            # A wheel turns only while the wheel below it passes from 9 to 0.
            pos = digit + ((below_pos - 9.0) if below_pos >= 9.0 else 0.0)
        positions.append(pos)
        below_pos = pos
    return positions[::-1]


def shown_reading(value_units: float, n_wheels: int) -> int:
    """The reading a careful person writes down: each wheel's digit nearest the window centre."""
    return int(math.floor(value_units + 0.5)) % (10**n_wheels)


@dataclass
class WheelStyle:
    """How one meter's counter looks."""

    font: str
    thickness: int
    black_bg: tuple  # BGR of the integer wheels
    black_fg: tuple
    red_bg: tuple
    red_fg: tuple
    pitch_ratio: float  # digit spacing on the wheel / glyph height
    glyph_frac: float  # glyph height / window height
    shading: float  # 0..1 darkening at the top and bottom of the wheel
    divider: tuple
    divider_frac: float
    stroke_px: int = 0  # training-only glyph augmentation (see varied_glyph)
    slant_10: int = 0
    aspect: float = 1.0  # glyph width multiplier
    # Decimal wheels drawn like the integer ones, in a red panel: red between them and above and
    # below them (this share of the wheel height), as on many gas and water meters (docs/ocr.md,
    # round 5). 0: the decimal wheels themselves are red (a red face or red digits).
    red_panel: float = 0.0


def panel_red(style: WheelStyle) -> tuple:
    """The style's red (its red wheels' face or digits, whichever is red)."""
    return max((style.red_bg, style.red_fg), key=lambda c: c[2] - max(c[0], c[1]))


def random_wheel_style(
    rng: np.random.Generator, fonts: list[str], heldout: bool = False, augment: bool = False
) -> WheelStyle:
    """Draw a counter style: font, colours (dark or light wheels), spacing, shading.

    Training draws from wider ranges than the held-out sets (augmentation); held-out sets use
    other values inside them, other fonts and another seed.
    """
    if heldout:
        pitch_lo, pitch_hi, gf_lo, gf_hi, sh_hi = 1.3, 1.9, 0.46, 0.76, 0.65
    else:
        pitch_lo, pitch_hi, gf_lo, gf_hi, sh_hi = 1.2, 2.0, 0.42, 0.82, 0.7
    font = fonts[rng.integers(len(fonts))]
    # Only augmented styles draw these, so other sets' random sequences (the bench set) are unchanged.
    stroke_px, slant_10, aspect = 0, 0, 1.0
    if augment and not heldout and rng.random() < 0.7:
        stroke_px = int(rng.integers(-2, 4))
        slant_10 = int(rng.integers(-2, 3)) if rng.random() < 0.4 else 0
        aspect = float(rng.uniform(0.7, 1.35))
    dark = rng.random() < 0.6
    g = int(rng.integers(0, 50))
    w = int(rng.integers(200, 256))
    black_bg, black_fg = ((g, g, g), (w, w, w)) if dark else ((w, w, w - int(rng.integers(0, 20))), (g, g, g))
    red = (int(rng.integers(0, 50)), int(rng.integers(0, 40)), int(rng.integers(150, 230)))
    red_bg, red_fg = (red, (w, w, w)) if rng.random() < 0.6 else ((w, w, w), red)
    return WheelStyle(
        font=font,
        thickness=int(rng.integers(2, 5)),
        black_bg=black_bg,
        black_fg=black_fg,
        red_bg=red_bg,
        red_fg=red_fg,
        pitch_ratio=float(rng.uniform(pitch_lo, pitch_hi)),
        glyph_frac=float(rng.uniform(gf_lo, gf_hi)),
        shading=float(rng.uniform(0.0, sh_hi)),
        divider=(int(rng.integers(0, 60)),) * 3 if rng.random() < 0.8 else (int(rng.integers(150, 230)),) * 3,
        divider_frac=float(rng.uniform(0.06, 0.16)),
        stroke_px=stroke_px,
        slant_10=slant_10,
        aspect=aspect,
    )


def render_wheel(style: WheelStyle, position: float, red: bool, w: int, h: int) -> np.ndarray:
    """One wheel window, w x h BGR, showing a continuous position (3.5 = halfway from 3 to 4)."""
    bg = np.array(style.red_bg if red else style.black_bg, np.float32)
    fg = np.array(style.red_fg if red else style.black_fg, np.float32)
    glyph_h = max(6, int(round(h * style.glyph_frac)))
    pitch = glyph_h * style.pitch_ratio
    cover = np.zeros((h, w), np.float32)
    base = math.floor(position)
    frac = position - base
    for k in (-1, 0, 1, 2):
        digit = (base + k) % 10
        g = varied_glyph(style.font, str(digit), style.thickness, style.stroke_px, style.slant_10)
        gw = max(3, min(w - 2, int(round(g.shape[1] * glyph_h / g.shape[0] * style.aspect))))
        gm = cv2.resize(g, (gw, glyph_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        cy = h / 2 + (k - frac) * pitch  # next digits come up from below as the wheel turns
        y0 = int(round(cy - glyph_h / 2))
        x0 = (w - gw) // 2
        ya, yb = max(0, y0), min(h, y0 + glyph_h)
        if ya < yb:
            cover[ya:yb, x0 : x0 + gw] = np.maximum(cover[ya:yb, x0 : x0 + gw], gm[ya - y0 : yb - y0])
    img = bg[None, None, :] * (1 - cover[..., None]) + fg[None, None, :] * cover[..., None]
    yy = (np.arange(h, dtype=np.float32) - h / 2) / (h / 2)
    shade = 1.0 - style.shading * np.abs(yy) ** 2  # a cylinder is darker towards its edges
    return np.clip(img * shade[:, None, None], 0, 255).astype(np.uint8)


def render_counter(
    style: WheelStyle, positions: list[float], n_red: int, wheel_w: int, wheel_h: int
) -> np.ndarray:
    """The whole wheel row (without the outer frame): wheels separated by dividers."""
    n = len(positions)
    div = max(1, int(round(wheel_w * style.divider_frac)))
    width = n * wheel_w + (n + 1) * div
    out = np.empty((wheel_h, width, 3), np.uint8)
    out[:] = style.divider
    panel = style.red_panel > 0 and n_red > 0
    if panel:  # the red panel holds the decimal wheels and the dividers around them
        out[:, (n - n_red) * (wheel_w + div) :] = panel_red(style)
    margin = int(round(style.red_panel * wheel_h)) if panel else 0
    for i, pos in enumerate(positions):
        x = div + i * (wheel_w + div)
        if panel and i >= n - n_red:
            inner = render_wheel(style, pos, False, wheel_w, wheel_h - 2 * margin)
            out[margin : wheel_h - margin, x : x + wheel_w] = inner
        else:
            out[:, x : x + wheel_w] = render_wheel(style, pos, i >= n - n_red, wheel_w, wheel_h)
    return out


@dataclass
class MeterTruth:
    """What a rendered photo shows."""

    value_units: float  # continuous count of last-wheel units
    n_wheels: int
    n_red: int
    reading: str  # digits as shown, "." before the red wheels
    window_quad: list = field(default_factory=list)  # 4 corners (x, y) in the photo
    positions: list = field(default_factory=list)
    frame_frac: float = 0.0  # frame width / window height

    @property
    def shown_units(self) -> int:
        """The shown reading as an integer count of last-wheel units."""
        return shown_reading(self.value_units, self.n_wheels)


def random_value(rng: np.random.Generator, n: int) -> float:
    """A reading that often has carries in flight (trailing 9s) so the carry rule is exercised."""
    v = float(rng.integers(0, 10**n))
    if rng.random() < 0.35:
        k = int(rng.integers(1, min(n, 4) + 1))
        v = math.floor(v / 10**k) * 10**k + (10**k - 1)
    return v + float(rng.random())


def _text(canvas: np.ndarray, rng, fonts, text: str, x: int, y: int, h: int, color) -> None:
    g = glyph(fonts[rng.integers(len(fonts))], text, 2)
    w = int(round(g.shape[1] * h / g.shape[0]))
    if w <= 2 or h <= 2:
        return
    m = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    H, W = canvas.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + w), min(H, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    sub = m[y0 - y : y1 - y, x0 - x : x1 - x]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region * (1 - sub) + np.array(color, np.float32) * sub).astype(np.uint8)


def _dial(canvas, rng, cx, cy, r, fonts) -> None:
    """A red pointer dial with its own small digits: a distractor for the counter reader."""
    cv2.circle(canvas, (cx, cy), r, (235, 235, 235), -1, cv2.LINE_AA)
    cv2.circle(canvas, (cx, cy), r, (40, 40, 40), max(1, r // 12), cv2.LINE_AA)
    for d in range(10):
        a = 2 * math.pi * d / 10 - math.pi / 2
        tx, ty = int(cx + 0.7 * r * math.cos(a)), int(cy + 0.7 * r * math.sin(a))
        _text(canvas, rng, fonts, str(d), tx - r // 10, ty - r // 8, max(4, r // 4), (30, 30, 30))
    a = rng.uniform(0, 2 * math.pi)
    tip = (int(cx + 0.8 * r * math.cos(a)), int(cy + 0.8 * r * math.sin(a)))
    cv2.line(canvas, (cx, cy), tip, (20, 20, 200), max(2, r // 8), cv2.LINE_AA)
    cv2.circle(canvas, (cx, cy), max(2, r // 7), (20, 20, 200), -1, cv2.LINE_AA)


def _draw_meter(canvas, rng, cx, cy, radius, style, value, n, n_red, fonts) -> tuple[list, float]:
    """Paint one meter on canvas; return the counter window's corners and frame fraction."""
    body = [(40, 110, 160), (150, 90, 30), (30, 30, 30), (120, 120, 120), (60, 140, 200)][rng.integers(5)]
    cv2.circle(canvas, (cx, cy), int(radius * 1.15), body, -1, cv2.LINE_AA)
    face = tuple(int(c) for c in rng.integers(205, 256, 3))
    cv2.circle(canvas, (cx, cy), radius, face, -1, cv2.LINE_AA)
    window_w = radius * rng.uniform(1.15, 1.5)
    n_div_frac = style.divider_frac
    wheel_w = int(window_w / (n + (n + 1) * n_div_frac))
    wheel_h = int(wheel_w * rng.uniform(1.25, 1.7))
    strip = render_counter(style, wheel_positions(value, n), n_red, wheel_w, wheel_h)
    frame = max(2, int(wheel_h * rng.uniform(0.08, 0.2)))
    frame_col = (int(rng.integers(0, 70)),) * 3
    sh, sw = strip.shape[:2]
    x0 = int(cx - sw / 2)
    y0 = int(cy - radius * rng.uniform(0.2, 0.45) - sh / 2)
    cv2.rectangle(canvas, (x0 - frame, y0 - frame), (x0 + sw + frame - 1, y0 + sh + frame - 1), frame_col, -1)
    canvas[y0 : y0 + sh, x0 : x0 + sw] = strip
    if style.red_panel > 0 and n_red > 0:
        div = max(1, int(round(wheel_w * style.divider_frac)))
        xr = x0 + (n - n_red) * (wheel_w + div)
        cv2.rectangle(canvas, (xr, y0 - frame), (x0 + sw + frame - 1, y0 - 1), panel_red(style), -1)
        cv2.rectangle(canvas, (xr, y0 + sh), (x0 + sw + frame - 1, y0 + sh + frame - 1), panel_red(style), -1)
        cv2.rectangle(canvas, (x0 + sw, y0), (x0 + sw + frame - 1, y0 + sh - 1), panel_red(style), -1)
    quad = [
        (x0 - frame, y0 - frame),
        (x0 + sw + frame, y0 - frame),
        (x0 + sw + frame, y0 + sh + frame),
        (x0 - frame, y0 + sh + frame),
    ]
    # Distractors: serial number, model label, m3 unit, pointer dials.
    th = max(6, int(wheel_h * rng.uniform(0.25, 0.4)))
    serial = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(6, 11))))
    _text(canvas, rng, fonts, f"No {serial}", int(cx - radius * 0.5), y0 + sh + frame + th, th, (40, 40, 40))
    _text(
        canvas,
        rng,
        fonts,
        ["DN15", "DN20 Q3 2.5", "Class B", "R160 H"][rng.integers(4)],
        int(cx - radius * 0.4),
        int(y0 - frame - 2.2 * th),
        th,
        (50, 50, 50),
    )
    _text(canvas, rng, fonts, "m3", x0 + sw + 2 * frame, y0 + sh // 4, th, (30, 30, 30))
    for _ in range(int(rng.integers(0, 5))):
        a = rng.uniform(0.15 * math.pi, 0.85 * math.pi)
        dr = int(radius * rng.uniform(0.1, 0.17))
        dx, dy = int(cx + radius * 0.62 * math.cos(a)), int(cy + radius * 0.55 * math.sin(a))
        _dial(canvas, rng, dx, dy, dr, fonts)
    return quad, frame / (sh + 2 * frame)


def _homography(rng, w, h, max_tilt_deg, max_rot_deg) -> np.ndarray:
    """A camera looking at the meter plane from up to max_tilt off-axis, rolled by up to max_rot."""
    tx, ty = np.radians(rng.uniform(-max_tilt_deg, max_tilt_deg, 2))
    rz = np.radians(rng.uniform(-max_rot_deg, max_rot_deg))
    f = max(w, h) * rng.uniform(1.0, 1.6)
    rx = np.array([[1, 0, 0], [0, math.cos(tx), -math.sin(tx)], [0, math.sin(tx), math.cos(tx)]])
    ry = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    rzm = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    r = rzm @ ry @ rx
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    # Plane points (x - w/2, y - h/2, 0) at distance f: H = K [r1 r2 t] T
    t = np.array([0, 0, f])
    hmat = k @ np.column_stack([r[:, 0], r[:, 1], t]) @ np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    s = rng.uniform(0.85, 1.05)
    scale = np.array([[s, 0, w / 2 * (1 - s)], [0, s, h / 2 * (1 - s)], [0, 0, 1]])
    return scale @ hmat / hmat[2, 2]


@dataclass
class PhotoParams:
    """Ranges for the photo degradations."""

    max_tilt_deg: float = 25.0
    max_rot_deg: float = 20.0
    max_blur_sigma: float = 1.6
    max_noise: float = 8.0
    min_jpeg_quality: int = 55
    glare_prob: float = 0.5
    dirt_prob: float = 0.4
    # Share of counters with decimal wheels drawn in a red panel (WheelStyle.red_panel). 0 draws
    # nothing more from the random stream, so every existing seed renders the same photos.
    red_panel_prob: float = 0.0


def random_background(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A blank photo 640-960 px wide with a sideways light gradient; (canvas uint8, base colour BGR)."""
    w = int(rng.integers(640, 961))
    h = int(w * rng.uniform(0.7, 0.85))
    bg = rng.integers(40, 200, 3).astype(np.float32)
    grad = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.2), w, dtype=np.float32)
    canvas = np.clip(bg[None, None, :] * grad[None, :, None] * np.ones((h, 1, 1), np.float32), 0, 255)
    return canvas.astype(np.uint8), bg


def photograph(
    rng: np.random.Generator, canvas: np.ndarray, bg: np.ndarray, p: PhotoParams
) -> tuple[np.ndarray, np.ndarray]:
    """Take the photo of a drawn scene: camera tilt and roll, shadow, glare, blur, noise.

    Returns the photo (uint8) and the homography from the scene to it.
    """
    h, w = canvas.shape[:2]
    hm = _homography(rng, w, h, p.max_tilt_deg, p.max_rot_deg)
    border = tuple(int(c) for c in bg)
    photo = cv2.warpPerspective(canvas, hm, (w, h), flags=cv2.INTER_LINEAR, borderValue=border).astype(
        np.float32
    )
    # Shadow: one side darker.
    if rng.random() < 0.5:
        ang = rng.uniform(0, 2 * math.pi)
        xx, yy = np.meshgrid(np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32))
        ramp = np.clip(0.5 + 0.5 * (xx * math.cos(ang) + yy * math.sin(ang)), 0, 1)
        photo *= (1 - rng.uniform(0.2, 0.5) * ramp)[..., None]
    if rng.random() < p.glare_prob:
        gx, gy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        sx, sy = rng.uniform(0.03, 0.12) * w, rng.uniform(0.02, 0.08) * h
        xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        blob = np.exp(-(((xx - gx) / sx) ** 2 + ((yy - gy) / sy) ** 2))
        photo += (rng.uniform(60, 140) * blob)[..., None]
    sigma = rng.uniform(0, p.max_blur_sigma)
    if sigma > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), sigma)
    photo += rng.normal(0, rng.uniform(0, p.max_noise), photo.shape).astype(np.float32)
    return np.clip(photo, 0, 255).astype(np.uint8), hm


def render_photo(
    rng: np.random.Generator,
    font_set: str = "train",
    params: PhotoParams | None = None,
    n_meters: int = 1,
    with_meter: bool = True,
    shown: tuple[float, int, int] | None = None,
) -> tuple[bytes, MeterTruth | None]:
    """Render one meter photo as JPEG bytes with its truth (None when with_meter is False).

    `shown` = (value in units of the last wheel, wheels, red wheels) photographs a given register
    (a demo household's meter); the random draws are the same either way.
    """
    p = params or PhotoParams()
    fonts = available_fonts(font_set)
    canvas, bg = random_background(rng)
    h, w = canvas.shape[:2]
    truth = None
    if with_meter:
        n = int(rng.integers(4, 9))
        n_red = int(rng.integers(0, min(4, n - 1) + 1))
        value = random_value(rng, n)
        if shown is not None:
            value, n, n_red = shown
        style = random_wheel_style(
            rng, fonts, heldout=font_set not in TRAINING_SETS, augment=font_set in AUGMENTED_SETS
        )
        if p.red_panel_prob > 0 and rng.random() < p.red_panel_prob:
            style.red_panel = float(rng.uniform(0.0, 0.15))
        if n_meters == 1:
            radius = int(min(w, h) * rng.uniform(0.32, 0.44))
            centres = [(int(w / 2 + rng.uniform(-0.08, 0.08) * w), int(h / 2 + rng.uniform(-0.05, 0.05) * h))]
        else:
            radius = int(min(w / 4.4, h * 0.4))
            centres = [(int(w * 0.26), h // 2), (int(w * 0.74), h // 2)]
        drawn = [
            _draw_meter(canvas, rng, cx, cy, radius, style, value, n, n_red, fonts) for cx, cy in centres
        ]
        sv = shown_reading(value, n)
        digits = str(sv).zfill(n)
        reading = digits[: n - n_red] + ("." + digits[n - n_red :] if n_red else "")
        truth = MeterTruth(value, n, n_red, reading, drawn[0][0], wheel_positions(value, n), drawn[0][1])
    else:
        fonts_ = fonts
        for _ in range(int(rng.integers(1, 4))):
            _text(
                canvas,
                rng,
                fonts_,
                "".join(str(d) for d in rng.integers(0, 10, 6)),
                int(rng.integers(0, w // 2)),
                int(rng.integers(0, h - 40)),
                int(rng.integers(15, 40)),
                (20, 20, 20),
            )
        cv2.circle(
            canvas, (w // 2, h // 2), int(min(w, h) * 0.3), tuple(int(c) for c in rng.integers(0, 256, 3)), -1
        )
    if rng.random() < p.dirt_prob:
        for _ in range(int(rng.integers(3, 15))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            overlay = canvas.copy()
            cv2.ellipse(
                overlay,
                c,
                (int(rng.integers(2, 12)), int(rng.integers(2, 8))),
                float(rng.uniform(0, 180)),
                0,
                360,
                (60, 70, 80),
                -1,
            )
            canvas = cv2.addWeighted(overlay, 0.4, canvas, 0.6, 0)
    out, hm = photograph(rng, canvas, bg, p)
    if truth is not None:
        q = cv2.perspectiveTransform(np.array([truth.window_quad], np.float32), hm)[0]
        truth.window_quad = [(float(x), float(y)) for x, y in q]
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(p.min_jpeg_quality, 96))])
    assert ok
    return buf.tobytes(), truth
