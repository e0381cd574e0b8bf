"""Finding the wheels when the locator's outline is off: chains of wheel centres, nested windows."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ocr_reader import locate, pipeline
from ocr_reader.api import read_photo
from ocr_reader.decode import decode_photo
from ocr_reader.locate import Candidate
from ocr_reader.recognise import WheelGuess
from ocr_reader.synth import available_fonts, random_wheel_style, render_counter


def _digits(lay: pipeline.Layout) -> str:
    return "".join(str(d) for d in pipeline.resolve([g.position for g in lay.guesses]).digits)


def _cut(quad: np.ndarray, keep_frac: float) -> np.ndarray:
    """The outline shortened from the right, keeping keep_frac of its width."""
    tl, tr, br, bl = quad
    return np.array([tl, tl + (tr - tl) * keep_frac, bl + (br - bl) * keep_frac, bl], np.float32)


@pytest.fixture(scope="module")
def red_photo(heldout_photos):
    """A held-out photo with at least two red wheels that the reader gets right, decoded."""
    for data, truth in heldout_photos:
        if truth.n_red >= 2 and truth.n_wheels >= 6 and read_photo(data).reading == truth.reading:
            return decode_photo(data), truth
    pytest.fail("no suitable held-out photo")


def _layout(bgr, quad) -> pipeline.Layout:
    lay = pipeline.best_layout(bgr, Candidate(quad, 1.0, 4.0, 0.02))
    assert lay is not None
    return lay


def test_chain_finds_the_last_wheel_when_the_outline_stops_inside_it(red_photo):
    bgr, truth = red_photo
    # The outline ends half way through the last wheel: equal cuts of it put every boundary wrong.
    quad = _cut(np.array(truth.window_quad, np.float32), 1 - 0.5 / truth.n_wheels)
    chained = pipeline.chain_layout(bgr, _layout(bgr, quad))
    assert chained is not None
    assert chained.n_wheels == truth.n_wheels
    assert _digits(chained) == f"{truth.shown_units:0{truth.n_wheels}d}"


def test_chain_grows_a_window_found_without_its_red_wheels(red_photo):
    bgr, truth = red_photo
    black = truth.n_wheels - truth.n_red
    quad = _cut(np.array(truth.window_quad, np.float32), (black + 0.1) / truth.n_wheels)
    partial = _layout(bgr, quad)
    chained = pipeline.chain_layout(bgr, partial)
    assert chained is not None and chained.n_wheels == truth.n_wheels
    assert _digits(chained) == f"{truth.shown_units:0{truth.n_wheels}d}"
    # the window the reading reports is the strip its wheels were read in, red wheels included: its
    # right end is the counter's, within half a wheel, not the black wheels' end that was found
    tl, tr, br, bl = np.array(truth.window_quad, np.float32)
    pitch = float(np.linalg.norm(tr - tl)) / truth.n_wheels
    read = pipeline.layout_quad(chained)
    assert np.linalg.norm((read[1] + read[2]) / 2 - (tr + br) / 2) < 0.5 * pitch
    assert np.linalg.norm((read[0] + read[3]) / 2 - (tl + bl) / 2) < 0.5 * pitch
    assert np.linalg.norm((quad[1] + quad[2]) / 2 - (tr + br) / 2) > truth.n_red * pitch - 0.5 * pitch


def test_pitch_from_the_strip_periodicity():
    strip = np.full((64, 420, 3), 230, np.uint8)
    pitch_px = 43.6
    for k in range(9):
        x = int(round(10 + k * pitch_px))
        strip[20:44, x + 12 : x + 30] = 20  # a dark "0" in each wheel
        strip[26:38, x + 17 : x + 25] = 230
        strip[:, x : x + 3] = 90  # the divider before it
    # The best equal cut's pitch was 50 px (one wheel too few): the texture says 43.6.
    assert pipeline._pitch_by_autocorrelation(strip, 50.0) == pytest.approx(pitch_px, abs=1.0)
    assert pipeline._pitch_by_autocorrelation(np.full((64, 420, 3), 200, np.uint8), 50.0) is None


def test_chain_keeps_strong_wheels_one_pitch_apart_and_stops_at_weak_ones():
    steps = pipeline.CHAIN_STEPS
    xs = np.arange(0, 12 * steps, dtype=float)  # one pitch = `steps` samples
    score = np.zeros(len(xs))
    for k in range(1, 6):
        score[k * steps] = 0.95
        score[k * steps - 1] = score[k * steps + 1] = 0.6  # a wheel scores well a little off centre too
    score[6 * steps] = 0.35  # what lies beyond the window: wheel-like, but weakly
    score[9 * steps] = 0.99  # something strong, but two pitches further: not part of the row
    _, idx = pipeline._chain(score, xs, float(steps))
    assert [int(xs[i]) for i in idx] == [k * steps for k in range(1, 6)]


def _lay(positions: list[float], scores: list[float]) -> pipeline.Layout:
    guesses = [WheelGuess(p, s, 0.0) for p, s in zip(positions, scores, strict=True)]
    cand = Candidate(np.zeros((4, 2), np.float32), 1.0, 4.0, 0.02)
    return pipeline.Layout(
        cand, np.zeros((64, 64, 3), np.uint8), len(guesses), 0.04, [], guesses, 0.9, 0.1, (0, 0)
    )


def test_a_larger_window_holds_the_same_reading_only_with_sure_extra_wheels():
    inner = _lay([4, 2, 5, 7], [0.97] * 4)
    whole = _lay([4, 2, 5, 7, 1.2, 8.5], [0.97] * 4 + [0.9, 0.8])
    assert pipeline._contains_reading(whole, inner)
    # The frame or a label beyond the last wheel read as a weak extra "wheel": not the same counter.
    weak = _lay([4, 2, 5, 7, 9.8], [0.97] * 4 + [0.39])
    assert not pipeline._contains_reading(weak, inner)
    # Other digits on the shared wheels: another cut, not the same reading.
    other = _lay([4, 2, 6, 7, 1.0], [0.97] * 5)
    assert not pipeline._contains_reading(other, inner)
    assert not pipeline._contains_reading(inner, inner)


def _counter_touching_a_dark_rim(seed: int, digits: str) -> bytes:
    """Dark wheels without a frame of their own, touching the meter's dark rim: no outline to find."""
    style = random_wheel_style(np.random.default_rng(seed), available_fonts("heldout"), heldout=True)
    style.shading = 0.2
    strip = render_counter(style, [float(d) for d in digits], 0, 44, 70)
    img = np.full((480, 640, 3), 225, np.uint8)
    cv2.circle(img, (320, 240), 260, (25, 25, 25), 60)
    y, x = 200, 320 - strip.shape[1] // 2 - 120
    img[y : y + strip.shape[0], x : x + strip.shape[1]] = strip
    buf = io.BytesIO()
    Image.fromarray(img[..., ::-1]).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("seed", [0, 2, 3])  # styles with dark wheels
def test_a_counter_without_an_outline_is_read_from_its_text_row(seed):
    data = _counter_touching_a_dark_rim(seed, "30718")
    # No framed window holds wheels here...
    bgr = decode_photo(data)
    framed = [pipeline.best_layout(bgr, c) for c in pipeline.find_candidates(bgr)[: pipeline.MAX_CANDIDATES]]
    assert all(lay is None or lay.fit < pipeline.MIN_FIT for lay in framed)
    # ...so the text detector's row is read; nothing else on the face reads as wheels.
    r = read_photo(data)
    assert r.reading == "30718" and r.window_source == "text"


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_an_unoutlined_row_beside_a_serial_number_waits_for_a_person(seed):
    """Without an outline, a serial number is as much a row of digits as the counter: review."""
    data = _counter_touching_a_dark_rim(seed, "30718")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    cv2.putText(img, "4829615", (210, 330), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (30, 30, 30), 3)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    r = read_photo(buf.tobytes())
    assert r.needs_review and r.reason in (
        "another_row_reads_as_wheels",
        "orientation_uncertain",
        "low_confidence",
    )
    assert r.reading == "30718" or any(a["reading"] == "30718" for a in r.alternatives)


def test_digit_rows_outline_glyphs_side_by_side():
    img = np.full((300, 720, 3), 230, np.uint8)
    for k, d in enumerate("4071"):
        cv2.putText(img, d, (200 + 50 * k, 180), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    cv2.putText(img, "7", (600, 60), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)  # alone: no row
    rows = pipeline.find_digit_rows(img)
    assert len(rows) == 1
    xs, ys = rows[0].quad[:, 0], rows[0].quad[:, 1]
    assert xs.min() < 200 and xs.max() > 200 + 50 * 3 + 35  # all four glyphs inside
    assert ys.min() < 130 and ys.max() > 180
    assert pipeline.find_digit_rows(np.full((300, 720, 3), 230, np.uint8)) == []


def test_a_page_of_glyphs_is_not_paired_into_rows(monkeypatch):
    img = np.full((540, 720, 3), 230, np.uint8)
    for r in range(20):
        for c in range(32):
            cv2.putText(
                img, str((r + c) % 10), (4 + c * 22, 26 + r * 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2
            )

    sizes = []
    real_rows = locate._rows

    def pairing(blobs, stats, centres):
        sizes.append(len(blobs))
        return real_rows(blobs, stats, centres)

    monkeypatch.setattr(locate, "_rows", pairing)
    assert pipeline.find_digit_rows(img) == []
    # The dark glyphs (640 of them) are never paired up, which would cost O(n^2) in Python.
    assert sizes and max(sizes) < 640


def test_leading_zeros_tell_which_way_up_a_counter_is():
    upright = _lay([0, 0, 6, 8, 6.3], [0.97] * 5)  # 00686, last wheel rolling
    turned = _lay([9, 8, 9, 0, 0], [0.95] * 5)  # the same wheels read upside down: 98900
    assert pipeline._zeros_lead(upright) and not pipeline._zeros_end(upright)
    assert pipeline._zeros_end(turned) and not pipeline._zeros_lead(turned)
    both = _lay([0, 0, 1, 0, 0], [0.9] * 5)
    assert not pipeline._zeros_lead(both) and not pipeline._zeros_end(both)


def test_turned_twin_is_no_rival_when_upright_and_leading_zeros_agree():
    """An upright row with leading zeros: its turned twin (zeros at the end) is no rival; the twin
    of an upright row that ends in zeros stays one (an upright 90000 or a turned 00006: review)."""
    quad = np.array([[10, 10], [110, 10], [110, 40], [10, 40]], np.float32)
    up = _lay([0, 0, 6, 8, 9], [0.96] * 5)
    down = _lay([6, 8, 9, 0, 0], [0.99] * 5)
    up.candidate = Candidate(quad, 1.0, 4.0, 0.02, "text")
    down.candidate = Candidate(np.roll(quad, 2, axis=0), 1.0, 4.0, 0.02, "text")
    assert pipeline._is_turned(up, down) and pipeline._is_turned(down, up)
    assert pipeline._upright(up) and not pipeline._upright(down)
    up.fit, down.fit = 0.96, 0.99
    assert pipeline._rivals(up, [up, down]) == []
    assert pipeline._rivals(down, [up, down]) == [up] and up.turned
    round_up = _lay([9, 0, 0, 0, 0], [0.97] * 5)
    round_down = _lay([0, 0, 0, 0, 6], [0.97] * 5)
    round_up.candidate, round_down.candidate = up.candidate, down.candidate
    assert pipeline._rivals(round_up, [round_up, round_down]) == [round_down]


def test_a_sideways_twin_pair_is_shown_the_way_its_zeros_lead():
    """Neither of a row and its turned twin reads upright (a sideways photo): both stay in review, and the
    reading shown first is the one whose zeros lead (00686, not 98900), the other kept as its rival. A
    pair of which one reads upright is left to the photo's way up, as before."""
    down = np.array([[20, 10], [20, 110], [50, 110], [50, 10]], np.float32)  # reads top to bottom
    chosen = _lay([9, 8, 9, 0, 0], [0.97] * 5)
    twin = _lay([0, 0, 6, 8, 6], [0.95] * 5)
    chosen.candidate = Candidate(down, 1.0, 4.0, 0.02, "text")
    twin.candidate = Candidate(np.roll(down, 2, axis=0), 1.0, 4.0, 0.02, "text")
    chosen.fit, twin.fit, twin.turned = 0.97, 0.95, True
    chosen.rivals = [twin]
    assert not pipeline._upright(chosen) and not pipeline._upright(twin)
    first = pipeline._read_first(chosen)
    assert first is twin and first.rivals == [chosen] and chosen.turned
    # ...and a chosen row whose zeros lead is not swapped for its twin, whatever the twin's fit
    twin.rivals, twin.turned, chosen.turned, chosen.fit = [chosen], False, True, 1.0
    assert pipeline._read_first(twin) is twin
    # one of the pair upright: the photo's way up decides (the upright 98900 stays first)
    up = np.array([[10, 10], [110, 10], [110, 40], [10, 40]], np.float32)
    chosen.candidate = Candidate(up, 1.0, 4.0, 0.02, "text")
    twin.candidate = Candidate(np.roll(up, 2, axis=0), 1.0, 4.0, 0.02, "text")
    chosen.rivals, twin.rivals, twin.turned, twin.fit = [twin], [], True, 0.95
    assert pipeline._upright(chosen) and pipeline._read_first(chosen) is chosen


def test_the_unit_beside_a_counter_says_which_way_up_its_row_is(monkeypatch):
    """Of a row and its turned twin, the one whose widened view reads the unit's "m" (m³) is the counter
    the right way up: it is read, and the other is no rival. When both or neither read it, the pair
    stays in doubt as it was."""
    up = np.array([[10, 10], [110, 10], [110, 40], [10, 40]], np.float32)
    serial = _lay([2, 9, 5, 6, 5, 0, 0, 3], [0.99] * 8)
    serial.candidate = Candidate(up + 100, 1.0, 4.0, 0.02, "text")

    def pair():
        chosen, twin = _lay([9, 8, 9, 0, 0], [0.97] * 5), _lay([0, 0, 6, 8, 6], [0.95] * 5)
        chosen.candidate = Candidate(up, 1.0, 4.0, 0.02, "text")
        twin.candidate = Candidate(np.roll(up, 2, axis=0), 1.0, 4.0, 0.02, "text")
        twin.turned, serial.turned = True, False
        chosen.rivals = [twin, serial]
        return chosen, twin

    bgr = np.zeros((8, 8, 3), np.uint8)
    for reads in ({"twin"}, {"chosen"}, set(), {"chosen", "twin"}):
        chosen, twin = pair()
        names = {id(chosen): "chosen", id(twin): "twin"}
        monkeypatch.setattr(pipeline, "_reads_unit", lambda img, lay, r=reads, n=names: n[id(lay)] in r)
        got = pipeline._orient_by_unit(bgr, chosen)
        if reads == {"twin"}:
            assert got is twin and got.rivals == [serial] and not twin.turned
        elif reads == {"chosen"}:
            assert got is chosen and got.rivals == [serial]
        else:
            assert got is chosen and got.rivals == [twin, serial]


def test_the_unit_is_read_beside_counters_read_upright_and_never_turned_over(heldout_photos):
    """The renders print "m3" after the counter: PP-OCR reads its "m" in the row widened the right way up
    (not always: small, blurred, or beyond the widened view), never in the same row turned over."""
    upright = turned = 0
    for data, _ in heldout_photos[:12]:
        bgr = decode_photo(data)
        lay = pipeline.choose_window(bgr)
        twin = pipeline.best_layout(bgr, pipeline._turned(lay.candidate))
        upright += pipeline._reads_unit(bgr, lay)
        turned += twin is not None and pipeline._reads_unit(bgr, twin)
    assert upright >= 3 and turned == 0, (upright, turned)


def test_a_grown_end_wheel_read_as_the_unit_is_dropped(monkeypatch):
    """A window grown a wheel onto the m³ beside the counter (SCjona's 00688 read 006889 upside down):
    where PP-OCR reads the "m" surely on the grown end's wheel, that wheel is the unit and is dropped."""
    from ocr_reader import textrec

    pitch = 40

    def grown(extend_px):
        lay = _lay([0, 0, 6, 8, 8, 9], [0.97] * 5 + [0.6])
        lay.strip = np.zeros((64, 6 * pitch, 3), np.uint8)
        lay.side_trim, lay.extend_px, lay.crops = 0.0, extend_px, [np.zeros((4, 4, 3), np.uint8)] * 6
        return lay

    def reads(text, probs):
        xs = tuple((i + 0.5) / 6 for i in range(len(text)))
        monkeypatch.setattr(textrec, "read_row", lambda strip: textrec.RowText(text, tuple(probs), xs))

    reads("00688m", [0.99] * 5 + [0.97])
    out = pipeline._unit_not_a_wheel(grown((0, 43)))
    assert out.n_wheels == 5 and _digits(out) == "00688" and out.strip.shape[1] == 5 * pitch
    assert out.extend_px == (0, 3) and len(out.crops) == 5 and out.fit == pytest.approx(0.97)
    assert pipeline._unit_not_a_wheel(grown((0, 10))).n_wheels == 6  # not grown there: a wheel
    reads("00688m", [0.99] * 5 + [0.3])
    assert pipeline._unit_not_a_wheel(grown((0, 43))).n_wheels == 6  # the "m" read unsurely
    reads("m00688", [0.97] + [0.99] * 5)
    assert pipeline._unit_not_a_wheel(grown((0, 43))).n_wheels == 6  # the "m" at the other end
    assert pipeline._unit_not_a_wheel(grown((43, 0))).n_wheels == 5  # ...which was the grown one


def test_a_row_whose_right_end_doubt_was_its_unit_is_not_left_open(monkeypatch):
    """SCjona's counter small in a scene: the chain took the "m" of m³ as a sixth wheel and saw the right
    end continue; with the "m" dropped as the unit, that end is settled. A doubt about the left end, or
    one whose side is not known, stays."""
    from ocr_reader import textrec

    def grown(partial, sides):
        lay = _lay([0, 0, 6, 8, 9, 0], [0.97] * 5 + [0.6])
        lay.strip = np.zeros((64, 240, 3), np.uint8)
        lay.side_trim, lay.extend_px, lay.crops = 0.0, (0, 43), [np.zeros((4, 4, 3), np.uint8)] * 6
        lay.maybe_partial, lay.beyond_sides = partial, sides
        return lay

    xs = tuple((i + 0.5) / 6 for i in range(6))
    monkeypatch.setattr(
        textrec, "read_row", lambda strip: textrec.RowText("00689m", (0.99,) * 5 + (0.96,), xs)
    )
    out = pipeline._unit_not_a_wheel(grown(True, (False, True)))
    assert out.n_wheels == 5 and not out.maybe_partial and out.beyond_sides == (False, False)
    assert pipeline._unit_not_a_wheel(grown(True, (True, True))).maybe_partial  # the left end too
    assert pipeline._unit_not_a_wheel(grown(True, (False, False))).maybe_partial  # not known where


def test_rivals_are_judged_settled_as_the_chosen_row_is(monkeypatch):
    """Rows are compared as first cut; the chosen row is then settled (chain, grown window), which lifts
    its fit. A rival is settled too before it is judged: one that settles far below the choice stops
    competing, one that settles close stays (its settled reading, still marked turned or not)."""
    chosen = _lay([3, 0, 1, 1, 7], [0.95] * 5)
    chosen.fit, chosen.framed = 0.87, True
    far, close = _lay([4, 2, 7, 5], [0.5] * 4), _lay([5, 1, 4, 4, 2], [0.8] * 5)
    far.fit, close.fit, close.turned = 0.32, 0.45, True
    settled = {id(far): 0.35, id(close): 0.8}

    def settle(bgr, lay):
        out = _lay([g.position for g in lay.guesses], [g.score for g in lay.guesses])
        out.fit = settled[id(lay)]
        return out

    monkeypatch.setattr(pipeline, "_settle", settle)
    kept = pipeline._settled_rivals(np.zeros((8, 8, 3), np.uint8), chosen, [far, close])
    assert [k.fit for k in kept] == [0.8] and kept[0].turned and kept[0] is not close
    # a choice no outline confirms keeps every rival that reads as wheels at all
    chosen.framed = False
    assert len(pipeline._settled_rivals(np.zeros((8, 8, 3), np.uint8), chosen, [far, close])) == 2


def test_a_rival_that_settles_better_is_read_first_and_the_choice_stays_its_rival():
    """A serial number beside the counter was chosen as first cut; settled, the outlined counter reads as
    well, and an outline counts for more: the counter is read first, the serial number stays a rival."""
    quad = np.array([[10, 10], [110, 10], [110, 40], [10, 40]], np.float32)
    serial = _lay([2, 9, 5, 6, 5, 0, 0, 3], [0.99] * 8)
    counter = _lay([0, 1, 5, 0, 1, 3, 3], [0.95] * 7)
    for lay in (serial, counter):
        lay.candidate = Candidate(quad, 1.0, 4.0, 0.02, "text")
    serial.fit, counter.fit, counter.framed = 0.92, 0.92, True
    serial.rivals = [counter]
    first = pipeline._read_first(serial)
    assert first is counter and first.rivals == [serial] and not serial.turned
    # a rival that settled worse by the same measure leaves the choice as it was
    counter.rivals, counter.fit = [], 0.8
    serial.rivals = [counter]
    assert pipeline._read_first(serial) is serial and serial.rivals == [counter]


def _wheel_crop(bg: tuple, fg: tuple) -> np.ndarray:
    crop = np.full((64, 44, 3), bg, np.uint8)
    crop[16:48, 14:30] = fg
    return crop


def test_smaller_print_beside_a_counter_ending_in_red_wheels_is_no_rival():
    """A water meter whose wheels each sit in their own little window has no outline around the counter,
    so every other row that reads as wheels is a rival: a "48 02" label in red boxes, a serial number.
    Print lower than a row that ends in red decimal wheels, and not ending so itself, is not a counter."""
    black, red = _wheel_crop((35, 35, 35), (230, 230, 230)), _wheel_crop((40, 40, 190), (235, 235, 235))
    label = _wheel_crop((235, 235, 235), (40, 40, 190))  # red print on white
    counter = _lay([0, 1, 3, 4, 0, 0, 7, 7], [0.97] * 8)
    counter.crops = [black] * 5 + [red] * 3
    counter.candidate = Candidate(
        np.array([[178, 86], [484, 86], [484, 172], [178, 172]], np.float32), 1.0, 3.6, 0.1, "text"
    )
    small = _lay([4, 8, 0, 2], [0.9] * 4)
    small.crops = [label] * 4
    small.candidate = Candidate(
        np.array([[145, 283], [208, 283], [208, 327], [145, 327]], np.float32), 1.0, 1.4, 0.01, "text"
    )
    counter.fit, small.fit = 0.98, 0.79
    assert pipeline._rivals(counter, [counter, small]) == []
    # as tall as the counter's row, it stays a rival (a second meter may be)
    tall = _lay([4, 8, 0, 2], [0.9] * 4)
    tall.crops, tall.fit = [label] * 4, 0.79
    tall.candidate = Candidate(
        np.array([[145, 250], [300, 250], [300, 330], [145, 330]], np.float32), 1.0, 1.9, 0.02, "text"
    )
    assert pipeline._rivals(counter, [counter, tall]) == [tall]
    # nor without the counter's red decimal wheels (all black: a serial number may be the larger print)
    counter.crops = [black] * 8
    assert pipeline._rivals(counter, [counter, small]) == [small]


def _cut_left(quad: np.ndarray, keep_frac: float) -> np.ndarray:
    """The outline shortened from the left, keeping keep_frac of its width (a row that lost its lead)."""
    tl, tr, br, bl = quad
    return np.array([tr + (tl - tr) * keep_frac, tr, br, br + (bl - br) * keep_frac], np.float32)


@pytest.mark.parametrize(("photo", "keep"), [(6, 0.7), (13, 0.6)])
def test_chain_slides_further_when_it_runs_into_the_end_of_its_slide(heldout_photos, photo, keep):
    # A text row that starts a few wheels into the counter, cut into too many equal wheels: the
    # pitch is underestimated, so the slide's reach ends inside the first wheel, and the chain lost
    # it (8-wheel counters read as their last 7, or with a junk leading digit).
    data, truth = heldout_photos[photo]
    assert truth.n_wheels == 8
    bgr = decode_photo(data)
    quad = _cut_left(np.array(truth.window_quad, np.float32), keep)
    lay = pipeline.best_layout(bgr, Candidate(quad, 1.0, 4.0, 0.02, "text"))
    assert lay is not None
    chained = pipeline.chain_layout(bgr, lay)
    assert chained is not None and chained.n_wheels == truth.n_wheels
    assert _digits(chained) == f"{truth.shown_units:0{truth.n_wheels}d}"
    assert chained.extend_px[0] > chained.extend_px[1]  # it slid further on the left only


def test_a_chain_of_the_most_wheels_does_not_doubt_its_ends(heldout_photos):
    # A text row that holds the first wheels of an 8-wheel counter: the chain grows to all eight and
    # runs into the end of its slide on the right. A counter has at most WHEEL_COUNTS[-1] wheels, so
    # no lost wheel can lie beyond it: the reading need not wait for "the window may continue"
    # (dev photos: six right 8-wheel gas meter readings waited on this alone).
    data, truth = heldout_photos[11]
    assert truth.n_wheels == pipeline.WHEEL_COUNTS[-1]
    bgr = decode_photo(data)
    quad = _cut(np.array(truth.window_quad, np.float32), 0.7)
    lay = pipeline.best_layout(bgr, Candidate(quad, 1.0, 4.0, 0.02, "text"))
    assert lay is not None and lay.n_wheels < truth.n_wheels
    chained = pipeline.chain_layout(bgr, lay)
    assert chained is not None and chained.n_wheels == truth.n_wheels
    assert _digits(chained) == f"{truth.shown_units:0{truth.n_wheels}d}"
    assert chained.beyond_sides[1]  # the slide ran out on the right...
    assert not chained.maybe_partial  # ...and still nothing can continue an 8-wheel counter


def test_a_weak_wheel_continuing_the_chain_inside_the_window_is_kept_for_review(heldout_photos):
    data, truth = heldout_photos[10]
    bgr = decode_photo(data)
    quad = _cut_left(np.array(truth.window_quad, np.float32), 0.65)
    chained = pipeline.chain_layout(bgr, _layout(bgr, quad))
    # The last wheel, a rolling red one half way from 5 to 6, reads too weakly to pay its way in the
    # chain: it is kept (the wheel count is right; without it the reading is 10x off) and the
    # reading waits for a person, whatever that wheel reads.
    assert chained is not None and chained.n_wheels == truth.n_wheels
    assert _digits(chained)[:-1] == f"{truth.shown_units:0{truth.n_wheels}d}"[:-1]
    assert chained.weak_ends
    sure = [{"confidence": 0.99, "rolling": False}] * chained.n_wheels
    assert pipeline.review_reason(True, chained, 0.5, sure) is not None
    chained.maybe_partial = False  # even with nothing beyond it, and every wheel then read surely
    assert pipeline.review_reason(True, chained, 0.5, sure) == "low_confidence"


def test_weak_wheels_extend_a_chain_only_inside_the_window_and_one_pitch_away():
    steps = pipeline.CHAIN_STEPS
    score = np.zeros(12 * steps)
    centres = np.arange(len(score), dtype=float)  # one pitch = `steps` px
    idx = [k * steps for k in range(4, 8)]
    for i in idx:
        score[i] = 0.9
    score[3 * steps] = 0.3  # a dim wheel one pitch before the first: kept
    score[2 * steps] = 0.1  # ...one before that, too weak: the chain stops
    score[8 * steps + 1] = 0.4  # one pitch after the last, but outside the window
    inside = (2.0 * steps, 8.0 * steps)
    out, weak = pipeline._extend_weak(score, centres, idx, inside)
    assert weak == (1, 0) and out == [3 * steps] + idx
    out, weak = pipeline._extend_weak(score, centres, idx, (3.5 * steps, 9.0 * steps))
    assert weak == (0, 1) and out == idx + [8 * steps + 1]
    score[3 * steps] = score[8 * steps + 1] = 0.0
    assert pipeline._extend_weak(score, centres, idx, inside) == (idx, (0, 0))


_CHOOSE_WINDOW = pipeline.choose_window  # as shipped, before any test patches it


def _png_read_right(red_photo) -> tuple[bytes, object]:
    """The red photo as PNG bytes, with its truth; read right and accepted as it is."""
    bgr, truth = red_photo
    ok, buf = cv2.imencode(".png", bgr)
    data = buf.tobytes()
    plain = read_photo(data)
    assert not plain.needs_review and plain.reading == truth.reading
    return data, truth


def _chosen_with(**attrs):
    """choose_window as shipped, its chosen layout then given attrs (a doubt the photo itself lacks)."""

    def choose(img, window=None, boxes=None):
        lay = _CHOOSE_WINDOW(img, window, boxes)
        for name, value in attrs.items():
            setattr(lay, name, value)
        return lay

    return choose


def test_weak_wheels_only_past_a_red_wheel_leave_the_black_wheels_whole_m3(red_photo, monkeypatch):
    """A chain continued by a weak wheel after its red ones (a third red wheel, turning, in dev photos
    turned 3 degrees) is in doubt about decimals alone: the black wheels' whole m3 is read when they are
    read surely. A weak wheel at the left, or after a black wheel, keeps the reading in review."""
    data, truth = _png_read_right(red_photo)

    def weak_at(sides):
        return _chosen_with(weak_ends=True, weak_sides=sides)

    monkeypatch.setattr(pipeline, "choose_window", weak_at((0, 1)))
    r = read_photo(data)
    assert not r.needs_review and r.reading == truth.reading.split(".")[0]
    assert r.decimals_dropped == truth.n_red and r.alternatives[0]["reading"] == truth.reading
    # the weak wheels would be the whole red run: the wheel before them is black
    for sides in ((1, 0), (1, 1), (0, truth.n_red)):
        monkeypatch.setattr(pipeline, "choose_window", weak_at(sides))
        assert read_photo(data).reason == "low_confidence"
    monkeypatch.setattr(pipeline, "WEAK_PAST_RED", False)
    monkeypatch.setattr(pipeline, "choose_window", weak_at((0, 1)))
    assert read_photo(data).reason == "low_confidence"


def _bare_layout(n_wheels: int) -> pipeline.Layout:
    """A layout of n_wheels with nothing read: for the rules that look only at its flags."""
    cand = Candidate(np.zeros((4, 2), np.float32), 1.0, 4.0, 0.0)
    return pipeline.Layout(cand, np.zeros((8, 8, 3)), n_wheels, 0.0, [], [], 0.9, 0.1, (0, 0))


def test_weak_past_red_needs_a_red_wheel_before_the_weak_ones():
    lay = _bare_layout(6)
    red = [False] * 4 + [True] * 2
    lay.weak_ends, lay.weak_sides = True, (0, 1)
    assert pipeline._weak_past_red(lay, red)
    assert not pipeline._weak_past_red(lay, [False] * 5 + [True])  # the weak wheel follows a black one
    assert not pipeline._weak_past_red(lay, [False] * 4 + [True, False])  # ...or is not red itself
    lay.weak_sides = (1, 1)
    assert not pipeline._weak_past_red(lay, red)
    lay.weak_sides = (0, 2)
    assert not pipeline._weak_past_red(lay, red)


def _flat(bgr: tuple[int, int, int]) -> np.ndarray:
    img = np.full((64, 40, 3), bgr, np.uint8)
    cv2.putText(img, "4", (8, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (235, 235, 235), 2)
    return img


def test_a_chain_longer_than_a_counter_ends_with_its_red_wheels():
    black, red, face = _flat((25, 25, 25)), _flat((30, 30, 200)), _flat((200, 205, 210))
    crops = [black] * 5 + [red] * 3 + [face]  # "m3" beyond the decimals read as a ninth wheel
    assert pipeline._end_at_decimals(crops, list(range(9))) == list(range(8))
    no_red = [black] * 9
    assert pipeline._end_at_decimals(no_red, list(range(9))) == list(range(9))


def test_an_outline_that_ends_before_the_red_wheels_do_keeps_the_window_open():
    """The demo's pending photo: 8 wheels (00291.3655 m³, the last red one half-way) outlined along the five
    black wheels' faces only. Grown by one red wheel, the reader was sure of `00291.3` (the crop beyond
    looked like an off-centre red 6: junk by the CNN's measure); a red wheel followed by a red crop that
    plainly shows a digit is a decimal run going on, so the first look waits for a person. Read again from
    slightly turned and scaled views (ocr_reader.retake), the views agree on the whole m³ 00291."""
    from devservices.seed.photo import meter_photo
    from ocr_reader.decode import decode_photo

    photo = meter_photo(291_365_000, 0)
    r = pipeline.read_image(decode_photo(photo))
    assert r.window_source == "frame" and r.reading == "00291.3"  # the window as found (else: re-pick)
    assert r.needs_review and r.reason == "window_may_continue"
    settled = read_photo(photo)
    assert not settled.needs_review and settled.views_agreeing >= 2
    assert settled.reading == "00291" and settled.value_m3 == 291.0


def _slid(digits: list[float], first: int, n_steps: int, pitch: float) -> tuple:
    """A slide (as pipeline._slide returns it) whose chain holds `digits` from step `first` on."""
    steps = pipeline.CHAIN_STEPS
    idx = [first + k * steps for k in range(len(digits))]
    score = np.full(n_steps, 0.01)
    guesses = [WheelGuess(0.0, 0.01, 0.9) for _ in range(n_steps)]
    for i, d in zip(idx, digits, strict=True):
        score[i] = 0.99
        guesses[i] = WheelGuess(d, 0.99, 0.0)
    xs = np.arange(n_steps) * pitch / steps
    width = int(round(pitch))
    ext = np.zeros((64, int(xs[-1]) + width + 1, 3), np.uint8)
    crops = [ext[:, int(x) : int(x) + width] for x in xs]
    total = sum(0.99 - pipeline.CHAIN_GAIN for _ in idx)
    return ext, idx, score, xs, crops, guesses, total, width, (0, 0)


def test_a_chain_another_pitch_finds_longer_doubts_the_chosen_ones_ends(monkeypatch):
    # A sideways dev photo: the text row held the last four wheels of 02677.038. At the cut's pitch the
    # chain grew to 2677038 and stopped, sure of every wheel; at the strip's own pitch it held all eight
    # wheels, 02677038, but centred outside the row, so it was not taken. That longer chain holding the
    # same digits says a wheel may be lost at an end: the reading must wait.
    seven = [2.0, 6.0, 7.0, 7.0, 0.0, 3.0, 8.0]
    cand = Candidate(np.array([[0, 0], [256, 0], [256, 64], [0, 64]], np.float32), 1.0, 4.0, 0.02, "text")
    lay = pipeline.Layout(cand, np.zeros((64, 256, 3), np.uint8), 4, 0.0, [], [], 0.7, 0.1, (0, 0))
    pitch0 = lay.pitch_px
    steps = pipeline.CHAIN_STEPS
    monkeypatch.setattr(pipeline, "_pitch_by_autocorrelation", lambda strip, p: 1.15 * p)

    def slide(bgr, c, pitch, reach_lr):
        n_steps = 16 * steps
        if pitch == pitch0:  # the chosen chain: inside the window, nothing wheel-like beyond it
            return _slid(seven, 5 * steps, n_steps, pitch)
        if reach_lr[0] <= round(4 * pitch):  # runs into the start of the slide: slid one pitch further...
            return _slid(seven, 0, n_steps, pitch)
        return _slid([0.0, *seven], 0, n_steps, pitch)  # ...all eight wheels, centred left of the window

    monkeypatch.setattr(pipeline, "_slide", slide)
    chained = pipeline.chain_layout(np.zeros((64, 64, 3), np.uint8), lay)
    assert chained is not None and chained.n_wheels == 7 and chained.maybe_partial
    monkeypatch.setattr(pipeline, "PITCH_DOUBT", False)
    assert not pipeline.chain_layout(np.zeros((64, 64, 3), np.uint8), lay).maybe_partial


def test_a_chain_in_doubt_only_beyond_its_red_last_wheel_gives_its_whole_m3(red_photo, monkeypatch):
    """A chain that ran out of its slide after its first red wheel (dev photo 00588.8; the second reader
    saw two more red wheels beyond): only decimal wheels can continue a row past a red wheel, so the black
    wheels' whole m3 is read. In doubt on the left, or past a black last wheel, the window stays open."""
    data, truth = _png_read_right(red_photo)

    def in_doubt(sides):
        return _chosen_with(maybe_partial=True, beyond_sides=sides)

    monkeypatch.setattr(pipeline, "choose_window", in_doubt((False, True)))
    r = read_photo(data)
    assert not r.needs_review and r.reading == truth.reading.split(".")[0]
    assert r.decimals_dropped == truth.n_red
    for sides in ((True, False), (True, True)):
        monkeypatch.setattr(pipeline, "choose_window", in_doubt(sides))
        assert read_photo(data).reason == "window_may_continue"
    monkeypatch.setattr(pipeline, "WHOLE_PAST_RED_END", False)
    monkeypatch.setattr(pipeline, "choose_window", in_doubt((False, True)))
    assert read_photo(data).reason == "window_may_continue"


def test_only_a_red_last_wheel_ends_the_doubt():
    lay = _bare_layout(4)
    lay.maybe_partial, lay.beyond_sides = True, (False, True)
    assert pipeline._only_decimals_may_continue(lay, [False, False, False, True])
    assert not pipeline._only_decimals_may_continue(lay, [False, False, True, False])  # a black last wheel
    assert not pipeline._only_decimals_may_continue(lay, [True] * 4)  # a tinted row: no decimals
    lay.beyond_sides = (True, True)
    assert not pipeline._only_decimals_may_continue(lay, [False, False, False, True])
    lay.beyond_sides, lay.maybe_partial = (False, True), False
    assert not pipeline._only_decimals_may_continue(lay, [False, False, False, True])


def test_coarse_to_fine_cuts_a_counter_as_every_cut_would(heldout_photos):
    from ocr_reader.recognise import wheel_model
    from ocr_reader.wheels import WHEEL_COUNTS

    model = wheel_model()
    saved = 0
    for data, truth in heldout_photos[:8]:
        bgr = decode_photo(data)
        cand = Candidate(np.array(truth.window_quad, np.float32), 1.0, 4.0, 0.02)
        before = model.crops_read
        lay = pipeline.best_layout(bgr, cand)
        coarse = model.crops_read - before
        before = model.crops_read
        every = pipeline._search(pipeline.rectify(bgr, cand.quad), WHEEL_COUNTS)
        saved += model.crops_read - before - coarse
        assert lay is not None
        fit, n, trim, _, _ = every[0]
        assert (lay.n_wheels, lay.side_trim) == (n, trim)
        assert lay.fit == pytest.approx(fit, abs=1e-6)
        assert lay.runner_up_fit <= max(s[0] for s in every if s[1] != n) + 1e-6
    assert saved > 0  # the finer cuts were skipped for some counts


def test_a_window_without_wheels_is_cut_at_one_trim_only():
    rng = np.random.default_rng(5)
    # Print-like noise: blotches, no wheel-sized glyphs in a row.
    bgr = cv2.GaussianBlur(rng.integers(0, 255, (60, 400, 3), dtype=np.uint8), (0, 0), 6)
    scored = pipeline._coarse_to_fine(bgr)
    assert scored and scored[0][0] < pipeline.QUICK_MIN_FIT
    assert {s[2] for s in scored} == {pipeline.QUICK_TRIM}


def test_a_chain_looks_past_a_gap_only_for_a_sure_wheel():
    steps = pipeline.CHAIN_STEPS
    score = np.zeros(12 * steps)
    end = 4 * steps  # the chain's last wheel
    one = end + steps
    far = end + int(1.9 * steps)
    assert pipeline._beyond_at(score, end, 1) == one  # nothing beyond: judged one pitch out
    score[one] = 0.3
    score[far - 1 : far + 2] = (0.7, 0.99, 0.3)
    assert pipeline._beyond_at(score, end, 1) == one  # something a pitch out is judged there
    score[one] = 0.0
    # a wheel set off by a wider gap (in a box of its own): read surely over neighbouring crops
    assert pipeline._beyond_at(score, end, 1) == far
    score[far - 1] = 0.2  # one crop alone: the edge of a frame or plate read as a "1"
    assert pipeline._beyond_at(score, end, 1) == one
    score[far - 1 : far + 2] = (0.45, 0.5, 0.4)  # an "m3" label reads weakly: not looked at
    assert pipeline._beyond_at(score, end, 1) == one
    score[:] = 0.0
    score[end + int(2.5 * steps) - 1 : end + int(2.5 * steps) + 1] = 0.99  # beyond the reach
    assert pipeline._beyond_at(score, end, 1) == one
    assert pipeline._beyond_at(score, 2, -1) == 2 - steps  # the slide ran out: outside, as before


def test_a_chain_seen_from_one_side_is_looked_beyond_at_its_own_pitch():
    """A gas meter's dev photo seen 30 degrees from the right: the chain's steps shrink towards the left
    (11, 11, 9, 9, 9, 7 from the right), its lost leading "2" peaked 6 steps left of the first wheel
    (0.34), and one mean pitch (8 steps) out read 0.147, under the doubt's mark: 9884 was accepted for
    29884. Looked at from the end's own pitch to the mean one, the lost wheel is seen."""
    steps = pipeline.CHAIN_STEPS
    idx = [33, 40, 49, 58, 67, 78, 89]
    assert pipeline._end_step(idx, -1) == 7 and pipeline._end_step(idx, 1) == 12
    assert pipeline._end_step([10, 18, 26, 34], -1) == steps  # a frontal row: the mean pitch
    assert pipeline._end_step([10, 18, 28, 40], -1) == steps  # three steps are no trend (1 in 3 by chance)
    assert pipeline._end_step([24, 33, 40, 49, 58], 1) == steps  # steps 9, 7, 9, 9: jitter, no trend
    assert pipeline._end_step([35, 42, 49, 56, 63, 71, 78], 1) == steps  # 7, 7, 7, 7, 8, 7: neither
    score = np.zeros(120)
    score[25:28] = (0.147, 0.14, 0.34)
    assert pipeline._beyond_at(score, 33, -1) == 25  # the mean pitch alone: no wheel
    left = pipeline._beyond_at(score, 33, -1, pipeline._end_step(idx, -1))
    assert left == 27 and score[left] >= pipeline.PARTIAL_DOUBT_CONFIDENCE
    # the same counter's near end: nothing past its last wheel, however far its pitch reaches
    assert score[pipeline._beyond_at(score, 89, 1, pipeline._end_step(idx, 1))] == 0.0


def _gapped_counter(rng: np.random.Generator, fonts: list[str], gap_wheels: float) -> tuple:
    """A black-wheeled counter whose last wheel sits gap_wheels wheel widths apart (a box of its own),
    photographed frontally: (jpeg, guided frame as fractions, value in last-wheel units, wheels)."""
    from ocr_reader.synth import random_value, render_wheel, wheel_positions

    n = int(rng.integers(5, 8))
    value = random_value(rng, n)
    style = random_wheel_style(rng, fonts, heldout=True)
    h = 64
    w = int(h * rng.uniform(0.55, 0.8))
    dark = (30, 30, 30)
    pieces = []
    for k, p in enumerate(wheel_positions(value, n)):
        if k:
            gap_px = int(gap_wheels * w) if k == n - 1 else max(2, w // 8)
            pieces.append(np.full((h, gap_px, 3), dark, np.uint8))
        pieces.append(render_wheel(style, p, False, w, h))
    b = int(0.15 * h)
    framed = cv2.copyMakeBorder(np.hstack(pieces), b, b, b, b, cv2.BORDER_CONSTANT, value=dark)
    px, py = int(1.5 * h), int(1.2 * h)
    scene = cv2.copyMakeBorder(framed, py, py, px, px, cv2.BORDER_CONSTANT, value=(225, 228, 230))
    ok, buf = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    hh, ww = scene.shape[:2]
    x0, y0, x1, y1 = px, py, ww - px, hh - py
    frame = [[x0 / ww, y0 / hh], [x1 / ww, y0 / hh], [x1 / ww, y1 / hh], [x0 / ww, y1 / hh]]
    return buf.tobytes(), frame, value, n


def test_a_last_wheel_set_off_by_a_wider_gap_is_not_lost_silently(monkeypatch):
    # A counter whose last wheel sits in a box of its own, 0.6 wheel widths past the others (real wheels
    # laid out so: a reading of them lost that wheel, 07193 for 071931, and was accepted). One pitch
    # beyond the others' chain lies the gap; the wheel lies nearly two pitches out.
    from ocr_reader.errors import BadImage
    from ocr_reader.scoring import is_correct

    rng = np.random.default_rng(1)
    photos = [_gapped_counter(rng, available_fonts("heldout"), 0.6) for _ in range(12)]

    def lost_and_accepted() -> tuple[int, int]:
        """(guided, unguided) readings accepted that are not the counter's."""
        lost = [0, 0]
        for data, frame, value, n in photos:
            for k, window in enumerate((frame, None)):
                try:
                    r = read_photo(data, window=window)
                except BadImage:
                    continue
                digits = r.reading.replace(".", "")
                right = len(digits) == n and is_correct(int(digits), value, n)
                lost[k] += not r.needs_review and not right
        return lost[0], lost[1]

    guided, unguided = lost_and_accepted()
    # Known limit: a rolling last wheel (two thirds of the way from 6 to 7) read weakly past the gap
    # (0.55) is not looked at, as a frame's edge or an "m3" beyond a counter reads that surely too.
    assert (guided, unguided) == (0, 1)
    monkeypatch.setattr(pipeline, "BEYOND_PITCHES", (1.0, 1.0))  # one pitch out only, as before
    monkeypatch.setattr(pipeline, "GAP_DOUBT", False)
    old = lost_and_accepted()
    assert old[0] >= 1 and old[1] >= 3, old


def test_the_prescreens_quick_look_is_not_read_twice(heldout_photos, monkeypatch):
    from ocr_reader.finder import text_candidates
    from ocr_reader.recognise import wheel_model

    monkeypatch.setattr(pipeline, "PRESCREEN_KEEP", 2)  # cut and rank every row, keep two
    model = wheel_model()
    reused = 0
    for data, _ in heldout_photos[:4]:
        bgr = decode_photo(data)
        cands = text_candidates(bgr)
        assert len(cands) > pipeline.PRESCREEN_KEEP
        before = model.crops_read
        layouts = pipeline.prescreened_layouts(bgr, cands)
        once = model.crops_read - before
        before = model.crops_read
        again = [pipeline.best_layout(bgr, c) for c in pipeline.prescreen(bgr, cands)]
        twice = model.crops_read - before
        again = [lay for lay in again if lay is not None]
        assert [(lay.n_wheels, lay.side_trim, lay.fit, lay.runner_up_fit) for lay in layouts] == [
            (lay.n_wheels, lay.side_trim, lay.fit, lay.runner_up_fit) for lay in again
        ]
        assert [[g.position for g in lay.guesses] for lay in layouts] == [
            [g.position for g in lay.guesses] for lay in again
        ]
        reused += twice - once
    assert reused > 0  # the kept rows' first cuts were not read again


def test_the_unit_where_a_next_wheel_would_be_ends_the_row(monkeypatch):
    """A fixed camera's counter (`00689`): one pitch past its last wheel, the crop with the m³ printed
    beside the wheels read as wheel-like (0.3), and the reading waited as window_may_continue. PP-OCR
    read the "m" there at 0.87: where a lost wheel would show a digit, it shows the unit."""
    from ocr_reader.textrec import RowText

    strip = np.zeros((64, 600, 3), np.uint8)  # five wheels and one more pitch: 100 px a wheel

    def reads(*chars):
        row = RowText(
            "".join(c for c, _, _ in chars), tuple(p for _, p, _ in chars), tuple(x for *_, x in chars)
        )
        monkeypatch.setattr(pipeline.textrec, "read_row", lambda s: row)
        return pipeline._unit_where_next_wheel(strip, 5, 0.0)

    digits = [(d, 0.97, (i + 0.5) / 6) for i, d in enumerate("00689")]
    assert reads(*digits, ("m", 0.87, 0.92), ("²", 0.55, 0.98))
    assert not reads(*digits, ("7", 0.9, 0.92))  # a digit there: a wheel, the row goes on
    assert not reads(*digits, ("m", 0.3, 0.92))  # an "m" read unsurely settles nothing
    assert not reads(*digits[:4], ("m", 0.9, 0.75))  # on the last wheel itself: not past the row
