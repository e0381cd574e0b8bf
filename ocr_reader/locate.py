"""Find the counter window (a framed row of wheels) in a photo and rectify it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_WIDTH_PX = 720  # detection runs at this width: enough for 8 wheels, fast on one core
MIN_ASPECT, MAX_ASPECT = 1.8, 11.0  # window width / height, from 4 wide wheels to 8 narrow ones
RECT_HEIGHT_PX = 64  # rectified window height


@dataclass
class Candidate:
    """A possible counter window: corners in photo pixels (tl, tr, br, bl) and a score."""

    quad: np.ndarray
    score: float
    aspect: float
    area_frac: float
    source: str = "frame"  # frame (an outline), bent (one not read: MAX_SIDE_SKEW_DEG), text (the text
    # detector), glyphs, given, reference


def order_quad(pts: np.ndarray) -> np.ndarray:
    """Order 4 points as top-left, top-right, bottom-right, bottom-left, long side horizontal."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise in image coords starting from about -180 deg
    # Rotate so the first point is top-left (smallest x+y).
    start = int(np.argmin(pts.sum(axis=1)))
    pts = np.roll(pts, -start, axis=0)
    top = np.linalg.norm(pts[1] - pts[0])
    left = np.linalg.norm(pts[3] - pts[0])
    if left > top:  # portrait quad: the long side must be the horizontal one
        pts = np.roll(pts, -1, axis=0) if pts[1][1] > pts[3][1] else np.roll(pts, 1, axis=0)
    return pts


# Opposite sides of a window's outline, seen at up to ~45 degrees of tilt, lie within this angle of
# each other; an outline whose hull took in a label beside it (the "3" of m3 bent a slanted window's
# corner out by 48 degrees) does not. Such a bent outline (source BENT) is not read as a window (the
# text detector's row, or another mask's outline, finds it), but it still shows that an outline is
# there: a row of print inside it counts as framed (dropping bent outlines altogether lost a dev
# photo's only framed row). Its rotated bounding box was tried in its stead: it took in the label too
# (on 446 validation renders, four readings lost and two gained).
MAX_SIDE_SKEW_DEG = 20.0
BENT = "bent"  # Candidate.source of an outline whose opposite sides are not near parallel


def _side_skew_deg(quad: np.ndarray) -> float:
    """The larger angle (degrees) between a quadrilateral's opposite sides (corners in order)."""
    worst = 0.0
    for a, b, c, d in ((0, 1, 3, 2), (1, 2, 0, 3)):
        u, v = quad[b] - quad[a], quad[d] - quad[c]
        cos = float(np.dot(u, v)) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-9)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))))
    return worst


def outline_source(quad: np.ndarray) -> str:
    """An outline's source: "frame" (read as a window), or BENT (its opposite sides not near parallel)."""
    return BENT if _side_skew_deg(quad) > MAX_SIDE_SKEW_DEG else "frame"


def _quad_from_contour(cnt: np.ndarray) -> np.ndarray | None:
    hull = cv2.convexHull(cnt)
    peri = cv2.arcLength(hull, True)
    for eps in (0.02, 0.035, 0.05):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    # Glare or a touching label bends the outline: fall back to the rotated bounding box.
    box = cv2.boxPoints(cv2.minAreaRect(cnt)).astype(np.float32)
    if cv2.contourArea(cnt) >= 0.8 * cv2.contourArea(box):
        return box
    return None


def _sides(quad: np.ndarray) -> tuple[float, float]:
    w = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    h = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    return float(w), float(h)


def _to_strip(quad: np.ndarray, height_px: int, extend_px: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The homography from the photo to the quad's straight strip height_px high (extended by extend_px
    (left, right) strip pixels in the same plane), and the strip's width."""
    w, h = _sides(quad)
    width_px = max(8, int(round(height_px * w / max(h, 1e-6))))
    dst = np.array([[0, 0], [width_px - 1, 0], [width_px - 1, height_px - 1], [0, height_px - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    left, right = extend_px
    if left or right:
        m = np.array([[1, 0, left], [0, 1, 0], [0, 0, 1]], np.float64) @ m
    return m, width_px + left + right


def rectify(
    bgr: np.ndarray, quad: np.ndarray, height_px: int = RECT_HEIGHT_PX, extend_px: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Warp the quad to a straight strip height_px high, keeping its aspect ratio.

    extend_px (left, right) continues the strip beyond the quad in the same plane (negative: cut short).
    """
    m, width_px = _to_strip(quad, height_px, extend_px)
    return cv2.warpPerspective(
        bgr, m, (width_px, height_px), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def levelled(bgr: np.ndarray, angle_deg: float, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The photo turned by angle_deg (cv2's sense: positive turns it counterclockwise as seen) about
    centre, which comes to the middle of a canvas of the photo's own size (what falls outside is cut,
    edges are repeated into the corners), and the 2x3 affine map from the photo's pixels to the turned
    one's. A row running at angle_deg (the text detector's angle) comes out level, at the scale it had:
    a canvas grown to hold the whole turned photo would shrink it in the detector's fixed-size input."""
    h, w = bgr.shape[:2]
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, 1.0)
    m[0, 2] += w / 2.0 - float(centre[0])
    m[1, 2] += h / 2.0 - float(centre[1])
    out = cv2.warpAffine(bgr, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return out, m


def unlevelled(points: list[list[float]], m: np.ndarray) -> list[list[float]]:
    """Points of a photo mapped by a 2x3 affine map m (`levelled`'s, a retaken view's), in the photo's
    own pixels."""
    if not points:
        return []
    a, t = m[:, :2], m[:, 2]
    back = (np.asarray(points, np.float64).reshape(-1, 2) - t) @ np.linalg.inv(a).T
    return [[float(x), float(y)] for x, y in back]


def extended_quad(quad: np.ndarray, extend_px: tuple[int, int]) -> np.ndarray:
    """The corners (photo pixels; tl, tr, br, bl) of the strip rectify(bgr, quad, extend_px=...) cuts."""
    if not any(extend_px):
        return quad.astype(np.float32)
    m, width_px = _to_strip(quad, RECT_HEIGHT_PX, extend_px)
    x1, y1 = width_px - 1, RECT_HEIGHT_PX - 1
    corners = np.array([[[0, 0], [x1, 0], [x1, y1], [0, y1]]], np.float64)
    return cv2.perspectiveTransform(corners, np.linalg.inv(m))[0].astype(np.float32)


def _border_contrast(gray: np.ndarray, quad: np.ndarray) -> float:
    """How much darker or more uniform the window frame is than its inside (0..1)."""
    strip = rectify(gray[..., None] if gray.ndim == 2 else gray, quad, 32)
    if strip.ndim == 3:
        strip = strip[..., 0]
    strip = strip.astype(np.float32)
    inner = strip[6:26, 4:-4]
    if inner.size == 0:
        return 0.0
    edge = np.concatenate([strip[:3].ravel(), strip[-3:].ravel()])
    # A wheel row has digit texture inside; a solid blob or text line does not look like this.
    texture = float(np.std(inner)) / 64.0
    darkness = max(0.0, float(np.mean(inner) - np.mean(edge))) / 64.0
    return float(min(1.0, 0.6 * min(texture, 1.0) + 0.4 * min(darkness, 1.0)))


def find_candidates(bgr: np.ndarray) -> list[Candidate]:
    """All plausible counter windows in the photo, best first, in the photo's pixel coordinates."""
    h0, w0 = bgr.shape[:2]
    scale = WORK_WIDTH_PX / max(w0, h0)
    small = cv2.resize(
        bgr, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA
    )
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    area_img = float(h * w)
    masks = []
    block = max(15, (min(h, w) // 8) | 1)
    # Dark frame / dark wheels against a light face.
    masks.append(
        cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12)
    )
    _, otsu = cv2.threshold(
        cv2.GaussianBlur(gray, (5, 5), 0), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU
    )
    masks.append(otsu)
    # Min over B, G, R makes red wheels as dark as black ones, so the window stays one blob.
    dark = np.min(small, axis=2)
    masks.append(
        cv2.adaptiveThreshold(dark, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12)
    )
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 40, 120)
    masks.append(cv2.dilate(edges, np.ones((3, 3), np.uint8)))
    found: list[Candidate] = []
    variants = []
    for mask in masks:
        variants.append(mask)
        variants.append(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)))
    for closed in variants:
        contours, _ = cv2.findContours(closed, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for cnt in contours:
            a = cv2.contourArea(cnt)
            if a < 0.004 * area_img or a > 0.5 * area_img:
                continue
            quad = _quad_from_contour(cnt)
            if quad is None:
                continue
            quad = order_quad(quad)
            qw, qh = _sides(quad)
            if qh < 8:
                continue
            aspect = qw / qh
            if not MIN_ASPECT <= aspect <= MAX_ASPECT:
                continue
            fill = a / max(cv2.contourArea(quad), 1.0)
            if fill < 0.8:
                continue
            if not cv2.isContourConvex(quad.reshape(-1, 1, 2).astype(np.int32)):
                continue
            contrast = _border_contrast(gray, quad)
            area_frac = cv2.contourArea(quad) / area_img
            score = contrast * min(1.0, fill) * min(1.0, area_frac / 0.02) ** 0.5
            found.append(Candidate(quad / scale, score, aspect, area_frac, outline_source(quad)))
    return _dedupe(sorted(found, key=lambda c: -c.score))


def _intersection_px2(a: np.ndarray, b: np.ndarray) -> float:
    """The area two convex quadrilaterals share (photo pixels squared)."""
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    return float(inter)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = _intersection_px2(a, b)
    union = cv2.contourArea(a.astype(np.float32)) + cv2.contourArea(b.astype(np.float32)) - inter
    return float(inter / union) if union > 0 else 0.0


def share_inside(row: np.ndarray, window: np.ndarray) -> float:
    """The share of a row's area (corners, photo pixels) inside a window (its convex hull: a window's
    corners in any order cover it)."""
    area = float(cv2.contourArea(row.astype(np.float32)))
    if area <= 0:
        return 0.0
    return _intersection_px2(row, cv2.convexHull(window.astype(np.float32))) / area


def overlaps(a: Candidate, b: Candidate) -> bool:
    """True when two windows cover one place (either's centre inside the other): the same row."""
    for p, q in ((a, b), (b, a)):
        c = p.quad.mean(axis=0)
        poly = q.quad.reshape(-1, 1, 2).astype(np.float32)
        if cv2.pointPolygonTest(poly, (float(c[0]), float(c[1])), False) >= 0:
            return True
    return False


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    """Drop near-duplicates; keep nested outlines (a frame and the wheels inside it both count). A bent
    outline (not read as a window) drops no outline that is read."""
    kept: list[Candidate] = []
    for c in cands:
        rivals = kept if c.source == BENT else [k for k in kept if k.source != BENT]
        if all(_iou(c.quad, k.quad) < 0.8 for k in rivals):
            kept.append(c)
    return kept


ROW_MIN_DIGITS = 3  # glyph-like blobs in a row before it may be a counter seen without its outline
ROW_MAX_BLOBS = 400  # more glyph-like blobs than this is a page of text, not a meter (and pairing is O(n^2))


def find_digit_rows(bgr: np.ndarray) -> list[Candidate]:
    """Rows of glyph-sized blobs, as outlines around them: counters whose window frame was not found.

    The fallback when no framed window holds wheels (the frame merges with a dark rim, or there is
    none): blobs of similar height, side by side along a line, make a row; the row's rotated box,
    grown to a wheel window's height, is a candidate. Serial numbers make rows too, so readings
    from these outlines always go to review.
    """
    h0, w0 = bgr.shape[:2]
    scale = WORK_WIDTH_PX / max(w0, h0)
    small = cv2.resize(
        bgr, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA
    )
    dark = np.min(small, axis=2)
    h, w = dark.shape
    block = max(15, (min(h, w) // 16) | 1)
    found: list[Candidate] = []
    for polarity in (cv2.THRESH_BINARY_INV, cv2.THRESH_BINARY):  # dark glyphs, light glyphs
        mask = cv2.adaptiveThreshold(dark, 255, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, block, 10)
        n, _, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
        blobs = [
            i
            for i in range(1, n)
            if 0.03 * h <= stats[i, 3] <= 0.3 * h
            and 0.12 <= stats[i, 2] / stats[i, 3] <= 1.0
            and 0.15 <= stats[i, 4] / (stats[i, 2] * stats[i, 3]) <= 0.85
        ]
        if len(blobs) > ROW_MAX_BLOBS:
            continue
        for row in _rows(blobs, stats, centres):
            pts = np.concatenate(
                [
                    [[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]]
                    for x, y, bw, bh in (stats[i, :4] for i in row)
                ]
            ).astype(np.float32)
            (cx, cy), (rw, rh), ang = cv2.minAreaRect(pts)
            if rw < rh:
                rw, rh, ang = rh, rw, ang + 90
            glyph_h = float(np.median([stats[i, 3] for i in row]))
            # A wheel window is taller than its glyphs and reaches past the outer ones.
            box = cv2.boxPoints(((cx, cy), (rw + 0.6 * glyph_h, 1.6 * glyph_h), ang))
            quad = order_quad(box)
            qw, qh = _sides(quad)
            if not MIN_ASPECT <= qw / max(qh, 1e-6) <= MAX_ASPECT:
                continue
            found.append(
                Candidate(quad / scale, 0.2 * min(1.0, len(row) / 8), qw / qh, qw * qh / (h * w), "glyphs")
            )
    return _dedupe(sorted(found, key=lambda c: -c.score))


def _rows(blobs: list[int], stats: np.ndarray, centres: np.ndarray) -> list[list[int]]:
    """Groups of blobs of about one height whose neighbours sit beside them, at most 30 degrees off."""
    parent = {i: i for i in blobs}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in blobs:
        for b in blobs:
            if b <= a:
                continue
            ha, hb = stats[a, 3], stats[b, 3]
            if not 0.7 <= ha / hb <= 1.43:
                continue
            dx, dy = centres[b] - centres[a]
            gap = abs(dx) - (stats[a, 2] + stats[b, 2]) / 2
            if gap <= 1.2 * max(ha, hb) and abs(dy) <= 0.58 * abs(dx) and abs(dx) > 0.2 * ha:
                parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in blobs:
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if ROW_MIN_DIGITS <= len(g) <= 12]
