"""A meter face drawn for the finder tests: four rows of print and an unframed row of wheels."""

from __future__ import annotations

import numpy as np

FACE_READING = "01088.592"


def drawn_face(seed: int, wheel_px: tuple[int, int] = (56, 72), print_scale: float = 0.9) -> np.ndarray:
    """A 640 x 480 meter face: four rows of label print, an unframed row of eight wheels showing
    FACE_READING (three red), the wheel style drawn from seed (held-out fonts)."""
    import cv2

    from ocr_reader.synth import available_fonts, random_wheel_style, render_counter, wheel_positions

    rng = np.random.default_rng(seed)
    style = random_wheel_style(rng, available_fonts("heldout"), heldout=True)
    img = np.full((480, 640, 3), (214, 218, 220), np.uint8)
    for text, y in (
        ("Qmax 6 m3/h  V 1,2 dm3", 70),
        ("Qmin 0,04 m3/h  Pmax 0,5 bar", 120),
        ("No. 61787919    2002", 390),
        ("G4  CE 0085 BN 0001", 440),
    ):
        cv2.putText(img, text, (60, y), cv2.FONT_HERSHEY_SIMPLEX, print_scale, (30, 30, 30), 2, cv2.LINE_AA)
    strip = render_counter(style, wheel_positions(1088592, 8), 3, *wheel_px)
    h, w = strip.shape[:2]
    x0 = (640 - w) // 2
    img[200 : 200 + h, x0 : x0 + w] = strip
    return img
