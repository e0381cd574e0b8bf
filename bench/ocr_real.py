"""Meter-photo OCR on real data: the 39 dev photos, the held-out makers' wheel crops, tesseract beside it.

Reads `../shared/data` (or WM_OCR_DATA_DIR); says so and skips when it is missing (people outside the
team have no shared folder: the sources are named in docs/ocr.md). Every figure is printed for one
run on one core (a spawned child limited to one thread).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import time
from dataclasses import dataclass

import numpy as np

from ocr_reader.api import BadImage, read_photo
from ocr_reader.scoring import integer_digits, is_correct, whole_units, within_one

DEV_DIR = "meter-photos-dev"
RELIABILITY_BINS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)


def data_dir() -> str:
    """The shared data folder (WM_OCR_DATA_DIR, default ../shared/data beside the repository)."""
    from ocr_reader.real_crops import DATA_DIR

    return DATA_DIR


@dataclass
class DevScores:
    """Whole-photo figures on the real dev set."""

    engine: str
    photos: int
    within_one: float  # integer part within one unit of the last integer wheel
    accepted: float
    accepted_correct: float
    accepted_wrong: int
    median_ms: float
    found: int  # the finder's chosen row is the counter (its integer digits match but for one wheel)
    wrong_row: int  # a reading came from another row (or a badly cut window)
    none: int  # no_meter / multiple_meters
    reasons: dict


def dev_set(root: str | None = None) -> list[tuple[bytes, dict]]:
    """The dev photos' bytes and truth rows."""
    folder = os.path.join(root or data_dir(), DEV_DIR)
    with open(os.path.join(folder, "truth.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    out = []
    for row in rows:
        with open(os.path.join(folder, row["file"]), "rb") as f:
            out.append((f.read(), row))
    return out


def truth_units(row: dict) -> tuple[float, int]:
    """(position of the last integer wheel, integer wheel count) of a truth row.

    The last integer wheel moves only while the tenths wheel passes from 9 to 0 (the carry): with
    decimals .918 it stands 0.18 of the way to the next digit, so 03293.918 shows 03293.
    """
    n = len(row["reading"])
    tenths = 10 * float("0." + row["decimals"]) if row.get("decimals") else 0.0
    return int(row["reading"]) + max(0.0, tenths - 9.0), n


def _as_jpeg(photos: list[tuple[bytes, dict]], quality: int, change=None) -> list[tuple[bytes, dict]]:
    """The photos upright (EXIF applied), optionally changed (a function of the PIL image), saved as JPEG
    at quality, 4:2:0, no EXIF."""
    from PIL import Image, ImageOps

    out = []
    for data, row in photos:
        img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        if change is not None:
            img = change(img)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, subsampling=2)  # 2: 4:2:0, PIL's default at these qualities
        out.append((buf.getvalue(), row))
    return out


def turned(photos: list[tuple[bytes, dict]], quarter_turns: int) -> list[tuple[bytes, dict]]:
    """The photos turned by quarter_turns x 90 degrees clockwise, as JPEG without EXIF: a photo taken
    sideways or upside down by a phone that wrote no orientation (the finder must find the row anyway)."""
    from PIL import Image

    if quarter_turns not in (0, 1, 2, 3):
        raise ValueError(f"quarter_turns is 0-3 (quarters of a turn, not degrees): {quarter_turns}")
    turn = {1: Image.Transpose.ROTATE_270, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_90}
    t = turn.get(quarter_turns)
    return _as_jpeg(photos, 92, None if t is None else lambda img: img.transpose(t))


SLANTS_DEG = (30, -30, 45, -45)  # a phone held askew: counterclockwise positive, up to the ~45 degrees asked


def turned_on_canvas(img: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned angle_deg counterclockwise on a canvas grown to hold all of it (its edges repeated
    into the new corners, as a wall or a pipe would continue), and the 2x3 map from its pixels to the
    turned image's."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    new_w, new_h = int(np.ceil(h * s + w * c)), int(np.ceil(h * c + w * s))
    m[0, 2] += new_w / 2 - w / 2
    m[1, 2] += new_h / 2 - h / 2
    out = cv2.warpAffine(img, m, (new_w, new_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return out, m


def slanted(photos: list[tuple[bytes, dict]], angle_deg: float) -> list[tuple[bytes, dict]]:
    """The photos upright, turned angle_deg counterclockwise (`turned_on_canvas`), as JPEG 92 without
    EXIF: a photo taken with the phone held askew."""
    from PIL import Image

    if not -60 <= angle_deg <= 60:
        raise ValueError(f"a slant is -60..60 degrees (beyond, a photo is sideways: turned()): {angle_deg}")
    return _as_jpeg(photos, 92, lambda img: Image.fromarray(turned_on_canvas(np.asarray(img), angle_deg)[0]))


SIDE_VIEWS_DEG = (30, -30)  # the phone off to one side of the meter (positive: its left)
FOCAL_LONG_SIDES = 0.8  # a phone's main camera: focal length 0.8 of the photo's long side (~70 degrees)


def side_view_image(img: np.ndarray, angle_deg: float) -> np.ndarray:
    """The image as a camera of FOCAL_LONG_SIDES would see its plane turned angle_deg about the vertical
    line through its centre (positive: the left side comes nearer, the right goes away), the same size,
    its edges repeated where the view runs past them."""
    import cv2

    h, w = img.shape[:2]
    f, t = FOCAL_LONG_SIDES * max(w, h), np.radians(angle_deg)
    centred = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]], np.float64)
    # plane point (x, y) at depth f turned about the y axis: x' = x cos t / (1 + x sin t / f), ...
    turn = np.array([[np.cos(t), 0, 0], [0, 1, 0], [np.sin(t) / f, 0, 1]], np.float64)
    m = np.linalg.inv(centred) @ turn @ centred
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def seen_from_side(photos: list[tuple[bytes, dict]], angle_deg: float) -> list[tuple[bytes, dict]]:
    """The photos upright, turned as `side_view_image` turns them, as JPEG 92 without EXIF: a photo taken
    from one side of the meter. Rows of print narrow towards the far side and converge there, the wheels
    nearer the camera wider than the far ones; vertical strokes stay vertical (unlike a photo held askew,
    `slanted`)."""
    from PIL import Image

    if not -60 <= angle_deg <= 60:
        raise ValueError(f"a side view is -60..60 degrees (beyond, the meter's face is edge-on): {angle_deg}")
    return _as_jpeg(photos, 92, lambda img: Image.fromarray(side_view_image(np.asarray(img), angle_deg)))


SCENE_SHARES = (0.5, 0.3)  # the meter photo's width as a share of the scene's: a phone held farther away


def large_scene_image(img: np.ndarray, share: float) -> np.ndarray:
    """The image at its own pixels inside a scene 1/share times its size (a photo of the meter from
    farther away, at a phone camera's resolution), upper middle; around it the image itself enlarged
    and blurred past legibility (wall and pipes: no print the finder could take for rows)."""
    import cv2

    if not 0.1 <= share <= 1.0:
        raise ValueError(f"share is the photo's part of the scene's width, 0.1-1: {share}")
    h, w = img.shape[:2]
    big_h, big_w = int(round(h / share)), int(round(w / share))
    # blurred at an eighth of the size (the same look, 64x less work), then enlarged
    small = cv2.resize(img, (max(1, big_w // 8), max(1, big_h // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(25.0, 0.03 * max(big_h, big_w)) / 8)
    scene = cv2.resize(small, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (big_h - h) // 3, (big_w - w) // 2
    scene[y0 : y0 + h, x0 : x0 + w] = img
    return scene


def in_large_scene(photos: list[tuple[bytes, dict]], share: float) -> list[tuple[bytes, dict]]:
    """The photos upright, each inside a larger scene (`large_scene_image`), as JPEG 92 without EXIF: the
    meter small in a large photo, its print a few pixels high once the photo is shrunk for the text
    detector."""
    from PIL import Image

    return _as_jpeg(photos, 92, lambda img: Image.fromarray(large_scene_image(np.asarray(img), share)))


RECOMPRESS_QUALITY = 75  # PIL's default JPEG quality; apps that forward photos recompress about so or lower


def recompressed(
    photos: list[tuple[bytes, dict]], quality: int = RECOMPRESS_QUALITY
) -> list[tuple[bytes, dict]]:
    """The photos upright, re-encoded as JPEG at quality with 4:2:0 chroma: a photo a resident forwards
    through an app that recompresses it, a harder re-encode than the turned copies' quality 92."""
    if not 1 <= quality <= 95:
        raise ValueError(f"JPEG quality is 1-95: {quality}")
    return _as_jpeg(photos, quality)


def _row_found(read: str, truth: str) -> bool:
    """The read integer digits are the truth's but for at most one wheel (the finder found the row)."""
    if len(read) != len(truth):
        return False
    return sum(a != b for a, b in zip(read, truth, strict=True)) <= 1


def _cpu_s() -> float:
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def score_dev(photos: list[tuple[bytes, dict]], engine: str = "wheels", log=None) -> DevScores:
    """Read each dev photo; compare the integer wheels with the truth."""
    ms, ok1, acc, acc_ok, found, wrong, none = [], 0, 0, 0, 0, 0, 0
    reasons: dict[str, int] = {}
    for data, row in photos:
        t0 = _cpu_s()
        try:
            r = read_photo(data, engine=engine)
        except BadImage as err:
            ms.append((_cpu_s() - t0) * 1000)
            none += 1
            reasons[err.reason] = reasons.get(err.reason, 0) + 1
            if log:
                log(f"  {row['reading']:>8s}  {err.reason}")
            continue
        ms.append((_cpu_s() - t0) * 1000)
        value, n = truth_units(row)
        digits = integer_digits(r.reading, r.integer_digits)
        good1 = good = False
        if len(digits) == n and digits.isdigit():
            good1 = within_one(int(digits), value, n)
            good = is_correct(int(digits), value, n)
        ok1 += good1
        found += _row_found(digits, row["reading"])
        wrong += not _row_found(digits, row["reading"])
        key = r.reason or "accepted"
        reasons[key] = reasons.get(key, 0) + 1
        if not r.needs_review:
            acc += 1
            acc_ok += good
        if log:
            flag = "OK " if good else ("~1 " if good1 else "BAD")
            log(f"  {row['reading']:>8s} {flag} read {r.reading:>12s} {key:28s} conf {r.confidence:.2f}")
    n = len(photos)
    return DevScores(
        engine,
        n,
        ok1 / n,
        acc / n,
        acc_ok / acc if acc else 0.0,
        acc - acc_ok,
        float(np.median(ms)),
        found,
        wrong,
        none,
        reasons,
    )


def wheel_right(position: float, label: float) -> bool:
    """The wheel's shown digit read right; half way between two digits, either counts (as is_correct)."""
    shown = int(np.floor(label + 0.5)) % 10
    digit = int(np.floor(position + 0.5)) % 10
    if digit == shown:
        return True
    frac = label - np.floor(label)
    return abs(frac - 0.5) < 0.2 and digit in (int(np.floor(label)) % 10, int(np.ceil(label)) % 10)


def _reliability(score: np.ndarray, right: np.ndarray) -> list[tuple[float, float, int, float]]:
    """(bin low, bin high, crops, share right) per score bin."""
    curve = []
    for lo, hi in zip(RELIABILITY_BINS[:-1], RELIABILITY_BINS[1:], strict=True):
        m = (score >= lo) & (score < hi)
        curve.append((lo, min(hi, 1.0), int(m.sum()), float(right[m].mean()) if m.any() else float("nan")))
    return curve


def _reader_accepts(position: np.ndarray, score: np.ndarray) -> np.ndarray:
    """As the reader judges wheels (ocr_reader.pipeline): steady ones against REVIEW_CONFIDENCE, rolling
    ones against the higher ROLLING_REVIEW_CONFIDENCE."""
    from ocr_reader.pipeline import REVIEW_CONFIDENCE, ROLLING_BAND, ROLLING_REVIEW_CONFIDENCE

    frac = position % 1.0
    rolling = (frac > ROLLING_BAND[0]) & (frac < ROLLING_BAND[1])
    return np.where(rolling, score >= ROLLING_REVIEW_CONFIDENCE, score >= REVIEW_CONFIDENCE)


def score_crops(held_out: bool = True) -> dict:
    """The recogniser alone on real wheel crops of the held-out makers: accuracy, acceptance, reliability."""
    from ocr_reader import positions, real_crops
    from ocr_reader.pipeline import REVIEW_CONFIDENCE, ROLLING_REVIEW_CONFIDENCE
    from ocr_reader.recognise import wheel_model

    s = real_crops.load(held_out=held_out)
    probs = wheel_model().probs(s.raw)
    dec = np.array([positions.decode(p) for p in probs])
    score = dec[:, 1] * (1 - dec[:, 2])
    right = np.array([wheel_right(p, y) for p, y in zip(dec[:, 0], s.y, strict=True)])
    err = np.abs((dec[:, 0] - s.y + 5) % 10 - 5)
    acc = score >= REVIEW_CONFIDENCE
    acc_reader = _reader_accepts(dec[:, 0], score)
    makers = {}
    for mk in sorted(set(s.maker)):
        m = np.array([x == mk for x in s.maker])
        makers[mk] = (int(m.sum()), float(right[m].mean()), float(acc[m].mean()))
    # The reader judges its wheels by their shift-averaged reading (pipeline.USE_TTA): the same rule on it.
    tta = wheel_model().predict(s.raw, tta=True)
    t_pos = np.array([g.position for g in tta])
    t_score = np.array([g.score for g in tta])
    t_right = np.array([wheel_right(p, y) for p, y in zip(t_pos, s.y, strict=True)])
    t_acc = _reader_accepts(t_pos, t_score)
    return {
        "tta_right": float(t_right.mean()),
        "tta_reader_accepted": float(t_acc.mean()),
        "tta_reader_right_among_accepted": float(t_right[t_acc].mean()) if t_acc.any() else 0.0,
        "tta_reader_wrong": int((t_acc & ~t_right).sum()),
        "tta_reliability": _reliability(t_score, t_right),
        "crops": len(s.y),
        "right": float(right.mean()),
        "within_0.35": float((err <= 0.35).mean()),
        "junk": float((dec[:, 2] > 0.5).mean()),
        "accepted": float(acc.mean()),
        "right_among_accepted": float(right[acc].mean()) if acc.any() else 0.0,
        "threshold": REVIEW_CONFIDENCE,
        "reader_accepted": float(acc_reader.mean()),
        "reader_right_among_accepted": float(right[acc_reader].mean()) if acc_reader.any() else 0.0,
        "rolling_threshold": ROLLING_REVIEW_CONFIDENCE,
        "reliability": _reliability(score, right),
        "makers": makers,
    }


N_COUNTERS = int(os.environ.get("OCR_BENCH_COUNTERS", "400"))
COUNTER_SEED = 606_060


def counter_set(n: int, seed: int = COUNTER_SEED) -> list[tuple[bytes, list, float, int, str]]:
    """Photos of counters laid out of real wheels of the held-out makes (true carry), with a guided frame.

    (photo bytes, frame corners as fractions, value in last-wheel units, wheels, make); makes in turn.
    """
    from ocr_reader import real_crops, row_data
    from ocr_reader.synth import available_fonts

    s = real_crops.load(held_out=True)
    rng = np.random.default_rng(seed)
    fonts = available_fonts("heldout")
    by_maker: dict[str, list[int]] = {}
    for i, m in enumerate(s.maker):
        by_maker.setdefault(m, []).append(i)
    makers = sorted(by_maker)
    out: list[tuple[bytes, list, float, int, str]] = []
    tries = 0
    while len(out) < n and tries < 20 * n:
        mk = makers[tries % len(makers)]
        tries += 1
        made = row_data.real_counter(rng, s.raw, s.y, by_maker[mk], fonts)
        if made is None:
            continue
        scene, box, value, n_wheels = made
        data, frame = row_data.counter_photo(rng, scene, box)
        out.append((data, frame, value, n_wheels, mk))
    return out


def score_counters(counters: list, guided: bool = True) -> dict:
    """Read each held-out counter photo (with its guided frame, or searched for); within one, accepted."""
    ok1 = acc = acc_ok = none = 0
    ms: list[float] = []
    reasons: dict[str, int] = {}
    for data, frame, value, n, _ in counters:
        t0 = _cpu_s()
        try:
            r = read_photo(data, window=frame if guided else None)
        except BadImage as err:
            ms.append((_cpu_s() - t0) * 1000)
            none += 1
            reasons[err.reason] = reasons.get(err.reason, 0) + 1
            continue
        ms.append((_cpu_s() - t0) * 1000)
        digits = r.reading.replace(".", "")
        # a reading that left unsure red wheels out: scored on the wheels it gives
        n_read, v_read = n - r.decimals_dropped, whole_units(value, r.decimals_dropped)
        good1 = good = False
        if len(digits) == n_read and digits.isdigit():
            good1 = within_one(int(digits), v_read, n_read)
            good = is_correct(int(digits), v_read, n_read)
        ok1 += good1
        key = r.reason or "accepted"
        reasons[key] = reasons.get(key, 0) + 1
        if not r.needs_review:
            acc += 1
            acc_ok += good
    n_all = max(len(counters), 1)
    return {
        "photos": len(counters),
        "within_one": ok1 / n_all,
        "accepted": acc / n_all,
        "accepted_correct": acc_ok / acc if acc else 0.0,
        "accepted_wrong": acc - acc_ok,
        "median_ms": float(np.median(ms)) if ms else 0.0,
        "reasons": reasons,
    }


def model_speed(photos: list[tuple[bytes, dict]]) -> dict:
    """ms per dev photo of the text detector, and per row of the recogniser (the detector's first row),
    as rewritten by onnx_fuse and as shipped, timed alternately in one process; and which files ran."""
    from ocr_reader import onnx_session, textdet, textrec
    from ocr_reader.decode import decode_photo

    runs = {"det": textdet.model_path(), "rec": textrec.model_path()}
    det_orig = onnx_session.open_session(textdet.original_path())
    rec_orig = onnx_session.open_session(textrec.original_path())
    chars = textrec._model()[1]
    det_fast, rec_fast = textdet._session, textrec._model
    ms: dict[str, list[float]] = {"det": [], "det_orig": [], "rec": [], "rec_orig": []}
    try:
        for data, _ in photos:
            bgr = decode_photo(data)
            for tag, sess in (("det", det_fast), ("det_orig", lambda: det_orig)):
                textdet._session = sess
                t0 = time.perf_counter()
                boxes = textdet.detect(bgr)
                ms[tag].append((time.perf_counter() - t0) * 1000)
            if not boxes:
                continue
            (cx, cy), (w, h) = boxes[0].centre, boxes[0].size
            strip = bgr[max(0, int(cy - h)) : int(cy + h), max(0, int(cx - w / 2)) : int(cx + w / 2)]
            for tag, model in (("rec", rec_fast), ("rec_orig", lambda: (rec_orig, chars))):
                textrec._model = model
                t0 = time.perf_counter()
                textrec.read_row(strip)
                ms[tag].append((time.perf_counter() - t0) * 1000)
    finally:
        textdet._session, textrec._model = det_fast, rec_fast
    return {"files": runs, **{k: float(np.median(v)) if v else 0.0 for k, v in ms.items()}}


def _run_all(
    root: str, n_tesseract: int
) -> tuple[DevScores, DevScores, dict, dict, dict, dict, dict, dict, dict]:
    import cv2

    cv2.setNumThreads(1)  # OpenCV's own thread pool: OMP_NUM_THREADS does not reach it
    photos = dev_set(root)
    speed = model_speed(photos)
    wheels = score_dev(photos, "wheels")
    tess = score_dev(photos[:n_tesseract], "tesseract")
    counters = score_counters(counter_set(N_COUNTERS))
    # 0: re-encoded only (JPEG 92, as the turned copies are): what re-encoding alone changes
    turns = {q: score_dev(turned(photos, q), "wheels") for q in (0, 1, 2, 3)}
    turns[-1] = score_dev(recompressed(photos), "wheels")
    slants = {a: score_dev(slanted(photos, a), "wheels") for a in SLANTS_DEG}
    sides = {a: score_dev(seen_from_side(photos, a), "wheels") for a in SIDE_VIEWS_DEG}
    scenes = {f: score_dev(in_large_scene(photos, f), "wheels") for f in SCENE_SHARES}
    return wheels, tess, score_crops(True), counters, turns, slants, sides, scenes, speed


def _print_dev(s: DevScores) -> None:
    print(
        f"{s.engine:10s} photos={s.photos}  within_one_unit={s.within_one:.1%}  accepted={s.accepted:.1%}  "
        f"correct_among_accepted={s.accepted_correct:.2%} ({s.accepted_wrong} accepted wrong)  "
        f"median={s.median_ms:.0f} ms/photo (CPU, one core)"
    )
    print(
        f"{'':10s} finder: counter row found {s.found}, another row {s.wrong_row}, none {s.none}; "
        f"outcomes {dict(sorted(s.reasons.items(), key=lambda kv: -kv[1]))}"
    )


def main() -> None:
    """Print the real-data figures (dev photos, held-out crops) and tesseract's on the same photos."""
    root = data_dir()
    if not os.path.isdir(os.path.join(root, DEV_DIR)):
        print(
            f"real OCR data missing at {root} (set WM_OCR_DATA_DIR): skipped. Sources: docs/ocr.md "
            "(SCjona/watermeter, laurynas/utility-meter-digitizer, Roboflow brojilo, haverland crops)"
        )
        return
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
        os.environ[var] = "1"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        wheels, tess, crops, counters, turns, slants, sides, scenes, speed = pool.apply(
            _run_all, (root, 1000)
        )
    print(f"real dev photos ({root}/{DEV_DIR}; never trained on; integer wheels scored)")
    kind = {k: "rewritten" if "fused" in str(v) else "ORIGINAL" for k, v in speed["files"].items()}
    print(
        f"PP-OCRv4 models, median ms on one core ({kind['det']} detector {speed['files']['det']}, "
        f"{kind['rec']} recogniser): detector {speed['det']:.0f} vs as shipped {speed['det_orig']:.0f} "
        f"({speed['det'] / max(speed['det_orig'], 1e-9):.2f}x), recogniser on a row {speed['rec']:.0f} "
        f"vs {speed['rec_orig']:.0f} ({speed['rec'] / max(speed['rec_orig'], 1e-9):.2f}x)"
    )
    _print_dev(wheels)
    _print_dev(tess)
    for q, s in turns.items():
        if q == -1:
            print(f"the same photos recompressed (JPEG quality {RECOMPRESS_QUALITY}, 4:2:0; the reader):")
        elif q == 0:
            print("the same photos only re-encoded (JPEG quality 92, as the turned copies are; the reader):")
        else:
            print(f"the same photos turned {90 * q} degrees clockwise, no EXIF (the reader):")
        _print_dev(s)
    for a, s in slants.items():
        print(f"the same photos held askew, turned {a} degrees counterclockwise, JPEG 92 (the reader):")
        _print_dev(s)
    for a, s in sides.items():
        where = "left" if a > 0 else "right"
        print(
            f"the same photos seen from the {where}, the meter's face {abs(a)} degrees away, JPEG 92 "
            "(the reader):"
        )
        _print_dev(s)
    for f, s in scenes.items():
        print(f"the same photos small in a larger scene, {f:.0%} of its width, JPEG 92 (the reader):")
        _print_dev(s)
    print(
        f"real wheel crops, held-out makers ({crops['crops']}): shown digit right {crops['right']:.1%}, "
        f"within 0.35 digit {crops['within_0.35']:.1%}, called junk {crops['junk']:.1%}; at the review "
        f"threshold {crops['threshold']}: accepted {crops['accepted']:.1%}, right among accepted "
        f"{crops['right_among_accepted']:.2%}; steady >= {crops['threshold']} and rolling >= "
        f"{crops['rolling_threshold']} (as the reader judges): accepted {crops['reader_accepted']:.1%}, "
        f"right among accepted {crops['reader_right_among_accepted']:.2%}"
    )
    print(
        "  reliability (score bin: crops, share right): "
        + "; ".join(f"{lo:.2f}-{hi:.2f}: {n}, {r:.1%}" for lo, hi, n, r in crops["reliability"])
    )
    print(
        f"  with the reader's shift averaging: shown digit right {crops['tta_right']:.1%}; "
        f"as the reader judges: accepted {crops['tta_reader_accepted']:.1%}, right among accepted "
        f"{crops['tta_reader_right_among_accepted']:.2%} ({crops['tta_reader_wrong']} wrong)"
    )
    print(
        "  reliability, shift-averaged (score bin: crops, share right): "
        + "; ".join(f"{lo:.2f}-{hi:.2f}: {n}, {r:.1%}" for lo, hi, n, r in crops["tta_reliability"])
    )
    for mk, (n, r, a) in crops["makers"].items():
        print(f"  {mk:34s} n={n:5d} right {r:.1%} accepted {a:.1%}")
    c = counters
    print(
        f"counters of real wheels of the held-out makes ({c['photos']} photos, guided frame): within one "
        f"{c['within_one']:.1%}, accepted {c['accepted']:.1%}, "
        f"correct among accepted {c['accepted_correct']:.2%} "
        f"({c['accepted_wrong']} wrong), median {c['median_ms']:.0f} ms; outcomes "
        f"{dict(sorted(c['reasons'].items(), key=lambda kv: -kv[1]))}"
    )


if __name__ == "__main__":
    main()
