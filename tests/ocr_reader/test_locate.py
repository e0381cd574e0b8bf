"""The outline finder's quadrilaterals: a window's outline, not one bent by a label beside it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr_reader import locate


def _turned(points: list[list[float]], angle_deg: float, at=(300.0, 300.0)) -> np.ndarray:
    rot = cv2.getRotationMatrix2D((0, 0), angle_deg, 1.0)[:, :2]
    return (np.asarray(points, np.float64) @ rot.T + at).astype(np.int32).reshape(-1, 1, 2)


def test_opposite_sides_of_a_window_seen_at_an_angle_are_nearly_parallel():
    rect = np.array([[0, 0], [150, 0], [150, 40], [0, 40]], np.float32)
    assert locate._side_skew_deg(rect) < 1e-3
    assert locate._side_skew_deg(_turned(rect, 37).reshape(4, 2).astype(np.float32)) < 1.0
    # a window tilted away from the camera: its far end shorter, the long sides converging a little
    tilted = np.array([[0, 0], [150, 8], [150, 32], [0, 40]], np.float32)
    assert locate._side_skew_deg(tilted) <= locate.MAX_SIDE_SKEW_DEG
    # a 30-degree-rotated SCjona window whose corner was bent out to the "3" of m3 (a dev photo)
    bent = np.array([[342.8, 442.3], [492.1, 372.6], [475.0, 419.6], [359.8, 477.9]], np.float32)
    assert locate._side_skew_deg(bent) > 40


@pytest.mark.parametrize("angle", [0, 30, 45, -30])
def test_an_outline_bent_by_a_label_at_its_corner_is_marked_bent(angle):
    # The window's dark outline merged with the unit's superscript just beyond its top-right corner.
    spiked = _turned([[0, 0], [150, 0], [175, -20], [150, 40], [0, 40]], angle)
    bent = locate._quad_from_contour(spiked)
    assert bent is not None and locate._side_skew_deg(bent) > locate.MAX_SIDE_SKEW_DEG
    assert locate.outline_source(bent) == locate.BENT
    clean = locate._quad_from_contour(_turned([[0, 0], [150, 0], [150, 40], [0, 40]], angle))
    assert clean is not None and locate.outline_source(clean) == "frame"


def test_a_bent_outline_drops_no_outline_that_is_read():
    rect = np.array([[0, 0], [150, 0], [150, 40], [0, 40]], np.float32)
    bent = np.array([[0, 0], [150, 0], [158, 40], [0, 40]], np.float32)  # a near-duplicate of rect
    got = locate._dedupe(
        [locate.Candidate(bent, 0.9, 4.0, 0.1, locate.BENT), locate.Candidate(rect, 0.8, 4.0, 0.1)]
    )
    assert [c.source for c in got] == [locate.BENT, "frame"]
    got = locate._dedupe([locate.Candidate(rect, 0.9, 4.0, 0.1), locate.Candidate(bent, 0.8, 4.0, 0.1)])
    assert len(got) == 1  # two outlines read as windows: the near-duplicate goes, as before


def test_a_bent_outline_is_not_read_but_frames_the_row_inside_it(heldout_photos, monkeypatch):
    """A bent outline round the counter: no window is cut from it, yet the text row inside it is framed."""
    import io

    from PIL import Image

    from ocr_reader import pipeline
    from ocr_reader.decode import decode_photo

    data, truth = heldout_photos[0]
    bgr = decode_photo(data)
    quad = np.array(truth.window_quad, np.float32) * (bgr.shape[1] / Image.open(io.BytesIO(data)).width)
    up, along = quad[1] - quad[2], (quad[1] - quad[0]) / float(np.linalg.norm(quad[1] - quad[0]))
    bent = quad.copy()
    bent[1] += up + along * float(np.linalg.norm(up))  # the corner pulled out to a label up and beyond
    assert locate.outline_source(bent) == locate.BENT
    outline = locate.Candidate(bent, 0.9, 4.0, 0.05, locate.BENT)
    monkeypatch.setattr(pipeline, "find_candidates", lambda img: [outline])
    read: list[str] = []
    layout = pipeline.best_layout

    def spy(img, cand, *a, **k):
        read.append(cand.source)
        return layout(img, cand, *a, **k)

    monkeypatch.setattr(pipeline, "best_layout", spy)
    lay = pipeline.choose_window(bgr)
    assert read and locate.BENT not in read
    assert lay.candidate.source == "text" and lay.framed


@pytest.mark.parametrize("angle", [0, 30, 45, -30])
def test_a_clean_outline_at_any_tilt_keeps_its_corners(angle):
    rect = _turned([[0, 0], [150, 0], [150, 40], [0, 40]], angle)
    quad = locate._quad_from_contour(rect)
    assert quad is not None
    got = locate.order_quad(quad)
    w, h = locate._sides(got)
    assert abs(w - 150) < 3 and abs(h - 40) < 3
