"""The second reader (PP-OCR's text recogniser): when its agreement stands in for the wheels' confidence."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr_reader import pipeline, textrec
from ocr_reader.locate import Candidate, rectify
from ocr_reader.synth import _font_path, available_fonts
from ocr_reader.textrec import RowText, decode

LABELS = ["", "0", "1", "2", "m"]


def _steps(*classes: int, p: float = 0.9) -> np.ndarray:
    probs = np.full((len(classes), len(LABELS)), (1 - p) / (len(LABELS) - 1), np.float32)
    for t, c in enumerate(classes):
        probs[t, c] = p
    return probs


def test_ctc_merges_repeats_and_a_blank_separates_equal_digits():
    assert decode(_steps(1, 1, 0, 1, 2, 2), LABELS).text == "001"  # 0 0 | blank | 0 | 1 1
    assert decode(_steps(1, 1, 1), LABELS).text == "0"
    assert decode(_steps(0, 3, 0, 0, 3, 4), LABELS).text == "22m"


def test_a_characters_probability_is_the_best_of_its_run():
    probs = _steps(2, 2, 0)
    probs[1, 2] = 0.99
    row = decode(probs, LABELS)
    assert row.text == "1" and row.probs == pytest.approx((0.99,))


def test_labels_beside_a_counter_are_no_digits():
    """The label beside a counter reads "m²" or "kWh": no wheel's digit ("²" is one to str.isdigit)."""
    assert textrec.is_digit("03279892") and not textrec.is_digit("²") and not textrec.is_digit("m3")
    # matched to 8 wheels, the frame "|" before them and the "-m²l" after them are passed over
    row = RowText("|03279892-m²l", (0.5,) + (0.9,) * 12, tuple((u + 0.5) / 13 for u in range(13)))
    a = pipeline._align(row, 8, lambda x: 13 * x - 1)
    assert a.lined_up and [c for c, _ in a.chars] == list("03279892") and a.beyond == (False, False)


def _counter(digits: str, box_px: int = 60) -> np.ndarray:
    """Black wheels with white digits side by side on a grey plate, like a meter's counter."""
    n = len(digits)
    img = Image.new("RGB", (n * box_px + 160, box_px + 80), (170, 170, 170))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(_font_path(available_fonts("heldout")[0]), int(box_px * 0.8))
    for i, d in enumerate(digits):
        x0 = 80 + i * box_px
        draw.rectangle((x0 + 3, 40, x0 + box_px - 3, 40 + box_px), fill=(20, 20, 20))
        draw.text((x0 + box_px / 2, 40 + box_px / 2), d, font=font, fill=(245, 245, 245), anchor="mm")
    return np.ascontiguousarray(np.asarray(img)[..., ::-1])


def _layout(img: np.ndarray, first: int, n: int, box_px: int = 60) -> pipeline.Layout:
    x0, x1 = 80 + first * box_px, 80 + (first + n) * box_px
    quad = np.array([[x0, 36], [x1, 36], [x1, 44 + box_px], [x0, 44 + box_px]], np.float32)
    cand = Candidate(quad, 1.0, (x1 - x0) / (box_px + 8), 0.0)
    strip = rectify(img, quad)
    return pipeline.Layout(cand, strip, n, 0.0, [], [], 0.9, 0.1, (0, 0))


def test_the_recogniser_ships_with_the_package_and_reads_a_plain_row():
    assert textrec.available(), "rapidocr-onnxruntime's recognition model is part of the venv (make venv)"
    img = _counter("0472913")
    row = textrec.read_row(_layout(img, 0, 7).strip)
    assert row is not None and row.text == "0472913"
    assert min(row.probs) > pipeline.SECOND_READER_MIN_PROB


def test_it_agrees_only_with_the_very_digits_of_the_row():
    img = _counter("0472913")
    lay = _layout(img, 0, 7)
    op = pipeline.second_opinion(img, lay, [0, 4, 7, 2, 9, 1, 3])
    assert op.agrees and op.text == "0472913" and op.sure_lead == 7
    op = pipeline.second_opinion(img, lay, [0, 4, 7, 2, 9, 7, 3])
    assert not op.agrees and op.text == "0472913"
    assert op.sure_lead == 5  # the five wheels before the one read otherwise: a sure lead, for the whole m3
    assert [d for d, _p in op.per_wheel] == [0, 4, 7, 2, 9, 1, 3]  # both views line up with the wheels
    assert pipeline.second_opinion(img, lay, [5, 4, 7, 2, 9, 1, 3]).sure_lead == 0


def _row(*chars: tuple[str, float, float]) -> RowText:
    """A read row from (character, probability, place in wheels) with 8 wheels across the view."""
    return RowText(
        "".join(c for c, _, _ in chars), tuple(p for _, p, _ in chars), tuple(u / 8 for _, _, u in chars)
    )


def _in_wheels(x: float) -> float:
    return 8 * x


def test_a_frame_read_as_a_one_is_set_aside_by_its_place():
    """PP-OCR reads a meter window's frame as a "1" beside the first wheel (dev photo 02946.202 read
    "102946205" for 8 wheels): by its place it is the frame, not a ninth digit, and the wheels line up."""
    row = _row(
        ("1", 0.9, 0.1), ("0", 0.99, 0.48), ("2", 0.99, 1.44), ("9", 0.99, 2.4), ("4", 0.98, 3.68),
        ("6", 0.99, 4.32), ("2", 0.99, 5.6), ("0", 0.98, 6.56), ("5", 0.5, 7.52),
    )  # fmt: skip
    a = pipeline._align(row, 8, _in_wheels)
    assert a.lined_up and a.beyond == (False, False)
    assert [c for c, _ in a.chars] == list("02946205")
    # a decimal comma between the wheels and an "m3" after them are no digits
    row = _row(("0", 0.99, 0.5), (",", 0.9, 1.0), ("7", 0.99, 1.5), ("m", 0.9, 2.6), ("3", 0.4, 2.9))
    a = pipeline._align(row, 2, _in_wheels)
    assert [c for c, _ in a.chars] == ["0", "7"] and a.lined_up and a.beyond == (False, False)


def test_a_frame_read_as_a_one_just_past_the_frame_band_is_still_the_frame():
    """The same photo re-encoded: the widened view read the frame's "1" 0.22 wheels out, beyond the band
    a digit is trusted in (CTC places a character to a third of a small wheel). A "1" is the frame there;
    another digit there, or a "1" half a wheel out, is a wheel lost beyond the end."""
    wheels = [("0", 0.97, 0.43), ("2", 0.99, 1.41), ("9", 0.99, 2.38), ("4", 0.99, 3.35), ("6", 0.99, 4.32)]
    a = pipeline._align(_row(("1", 0.92, -0.22), *wheels), 5, _in_wheels)
    assert a.beyond == (False, False) and a.lined_up and [c for c, _ in a.chars] == list("02946")
    assert pipeline._align(_row(("7", 0.92, -0.22), *wheels), 5, _in_wheels).beyond == (True, False)
    assert pipeline._align(_row(("1", 0.92, -0.5), *wheels), 5, _in_wheels).beyond == (True, False)
    tail = pipeline._align(_row(*wheels, ("1", 0.92, 5.25)), 5, _in_wheels)
    assert tail.beyond == (False, False)


def test_an_extra_digit_inside_the_row_lines_nothing_up():
    # nine digits for eight wheels, the extra one between the third and fourth wheel: no split off the
    # ends puts the others at their wheels
    row = _row(*[(str(i), 0.99, u) for i, u in enumerate((0.5, 1.5, 2.5, 3.0, 3.5, 4.5, 5.5, 6.5, 7.5))])
    a = pipeline._align(row, 8, _in_wheels)
    assert not a.lined_up and a.chars == (None,) * 8


def test_a_wheel_read_as_nothing_leaves_the_others_at_their_places():
    """A rolling last wheel PP-OCR does not read (14441.494 read "1444149"), or a worn first "0" read as a
    letter ("J3279892"): the digits read go to the wheels they were read on; the view is not lined up."""
    a = pipeline._align(_row(*[(d, 0.99, i + 0.4) for i, d in enumerate("1444149")]), 8, _in_wheels)
    assert [c and c[0] for c in a.chars] == list("1444149") + [None] and not a.lined_up
    a = pipeline._align(
        _row(("J", 0.4, 0.47), *[(d, 0.99, i + 1.4) for i, d in enumerate("3279892")]), 8, _in_wheels
    )
    assert [c and c[0] for c in a.chars] == [None, *"3279892"] and not a.lined_up
    # two digits read on one wheel: no wheel can be told
    assert pipeline._align(_row(("1", 0.9, 0.4), ("7", 0.9, 0.6)), 3, _in_wheels).chars == (None,) * 3


def test_a_digit_read_unsurely_outside_the_row_is_none_of_its_wheels():
    """A dev photo re-encoded: the widened view read "14441499m", its seven wheels' digits and a "9" at
    0.31 half a wheel past the last wheel (the rolling last wheel itself read as nothing). Counted, nine
    digits-with-the-last-wheel's-place lined up with nothing; set aside, the seven go to their wheels."""
    seven = [(d, 0.9, i + 0.4) for i, d in enumerate("1444149")]
    a = pipeline._align(_row(*seven, ("9", 0.31, 8.6), ("m", 0.93, 9.5)), 8, _in_wheels)
    assert [c and c[0] for c in a.chars] == list("1444149") + [None] and a.beyond == (False, False)
    # read surely out there it still counts: eight digits that do not line up (as before); read unsurely
    # on the last wheel, it is that wheel's
    sure = pipeline._align(_row(*seven, ("9", 0.9, 8.6)), 8, _in_wheels)
    assert sure.chars == (None,) * 8
    on_last = pipeline._align(_row(*seven, ("9", 0.31, 7.5)), 8, _in_wheels)
    assert on_last.lined_up and on_last.chars[7] == ("9", 0.31)


def test_a_digit_beyond_an_end_is_a_lost_wheel_when_read_surely():
    lost = pipeline._align(_row(("2", 0.97, -0.5), ("3", 0.99, 0.5), ("8", 0.99, 1.5)), 2, _in_wheels)
    assert lost.beyond == (True, False) and [c for c, _ in lost.chars] == ["3", "8"]
    lost = pipeline._align(_row(("3", 0.99, 0.5), ("8", 0.99, 1.5), ("4", 0.94, 2.5)), 2, _in_wheels)
    assert lost.beyond == (False, True)
    # ...but not read surely, or not a digit: no lost wheel
    weak = pipeline._align(
        _row(("3", 0.99, 0.5), ("8", 0.99, 1.5), ("4", 0.3, 2.5), ("m", 0.9, 3.2)), 2, _in_wheels
    )
    assert weak.beyond == (False, False) and weak.lined_up


def test_a_row_without_places_matches_nothing():
    assert pipeline._align(RowText("0123", (0.9,) * 4), 4, _in_wheels) == pipeline._Aligned(
        (None,) * 4, False, (False, False)
    )


def test_a_wheel_read_unsurely_needs_a_surer_second_reading(monkeypatch):
    """Both readers read a real wheel's 9 as 3 (a counter of real wheels, the CNN at 0.72, PP-OCR at 0.72
    and 0.55): where the CNN is unsure, the second reader confirms only at SECOND_CONFIRM_PROB."""
    img = _counter("3554462")
    lay = _layout(img, 0, 7)
    text, first = "3554462", (0.72, 0.55)  # the first digit's probability in each view

    def view(k: int, across: float, lead: float) -> RowText:  # the digits at their wheels' centres
        probs = tuple(0.99 if i else first[k] for i in range(7))
        return RowText(text, probs, tuple((lead + i + 0.5) / across for i in range(7)))

    # the row as cut is 7 wheels wide; the widened view 2 wheels more on each side
    views = iter([view(0, 7, 0), view(1, 11, 2)] * 2)
    monkeypatch.setattr(textrec, "read_row", lambda strip: next(views))
    digits = [3, 5, 5, 4, 4, 6, 2]
    unsure = pipeline.second_opinion(img, lay, digits, [0.72] + [0.99] * 6)
    assert not unsure.agrees and unsure.sure_lead == 0
    sure = pipeline.second_opinion(img, lay, digits, [0.99] * 7)
    assert sure.agrees and sure.sure_lead == 7


def test_the_chains_strip_is_the_window_cut_with_its_own_extension():
    """A chain's strip is a part of the window grown by the slide: its extend_px must cut that very strip
    from the window, or the widened view reaches past other print (the chain's own reach and two pitches
    more)."""
    img = _counter("0472913")
    lay = _layout(img, 1, 5)
    chained = pipeline.chain_layout(img, lay)
    assert chained is not None and chained.n_wheels == 7
    again = rectify(img, lay.candidate.quad, extend_px=chained.extend_px)
    assert again.shape == chained.strip.shape and np.array_equal(again, chained.strip)


def test_a_frame_read_as_a_one_beside_the_first_wheel_does_not_break_the_agreement():
    """A light bracket of the window's frame just left of the first wheel, on a dark plate: PP-OCR reads it
    as a leading "1" ("10294620" for 7 wheels). Matched by place, the eight characters are the frame and
    the seven wheels' digits, and the two readers agree."""
    img = _counter("0294620")
    img[img[..., 0] == 170] = 60  # a dark plate
    x = 80 + 3 - 3 - 5
    img[40:100, x : x + 5] = 235  # the bracket: an upright bar with short arms top and bottom
    img[40:45, x : x + 12] = 235
    img[95:100, x : x + 12] = 235
    lay = _layout(img, 0, 7)
    op = pipeline.second_opinion(img, lay, [0, 2, 9, 4, 6, 2, 0])
    assert op.text == "10294620"
    assert op.agrees and op.sure_lead == 7
    assert not pipeline.second_opinion(img, lay, [0, 2, 9, 4, 6, 2, 1]).agrees


def test_full_width_digits_are_digits():
    """On a dark plate the recogniser often picks the full-width digits of its dictionary."""
    labels = ["", "０", "２", "m"]
    assert decode(_steps(1, 0, 2, 3, p=0.9), labels).text == "02m"


def test_a_row_cut_short_is_caught_by_the_widened_view():
    """The window holds 5 of the counter's 7 wheels: the row itself reads as the wheels do, the
    view a pitch wider on each side sees the wheels that were lost."""
    img = _counter("0472913")
    lay = _layout(img, 1, 5)
    assert textrec.read_row(lay.strip).text == "47291"
    op = pipeline.second_opinion(img, lay, [4, 7, 2, 9, 1])
    assert op.text == "47291" and not op.agrees and op.sure_lead == 0


def _opinion(digits: list[int], text: str, prob: float = 0.99) -> pipeline.SecondOpinion:
    """What the second reader would make of a row it read as text (both views alike, each at prob, each
    character at its wheel when there are as many)."""
    want = "".join(map(str, digits))
    lined_up = len(text) == len(want) and text.isdigit()
    lead = (
        next((i for i, (a, b) in enumerate(zip(text, want, strict=True)) if a != b), len(want))
        if lined_up
        else 0
    )
    per_wheel = tuple((int(c), prob) for c in text) if lined_up else ()
    return pipeline.SecondOpinion(text, text == want, lead, per_wheel)


def _wheels(*confs_rolling: tuple[float, bool]) -> list[dict]:
    return [{"confidence": c, "rolling": r} for c, r in confs_rolling]


def test_agreement_stands_in_for_still_wheels_only():
    img = _counter("0472")
    lay = _layout(img, 0, 4)
    weak_still = _wheels((0.99, False), (0.4, False))
    weak_rolling = _wheels((0.99, False), (0.9, True))
    assert pipeline.review_reason(True, lay, 0.5, weak_still) == "low_confidence"
    assert pipeline.review_reason(True, lay, 0.5, weak_still, agreed=True) is None
    assert pipeline.review_reason(True, lay, 0.5, weak_rolling, agreed=True) == "rolling_wheel_unsure"
    # never for the window, the row or the carry
    lay.maybe_partial = True
    assert pipeline.review_reason(True, lay, 0.5, weak_still, agreed=True) == "window_may_continue"
    lay.maybe_partial, lay.rivals = False, [lay]
    assert pipeline.review_reason(True, lay, 0.5, weak_still, agreed=True) == "another_row_reads_as_wheels"
    lay.rivals = []
    assert pipeline.review_reason(False, lay, 0.5, weak_still, agreed=True) == "wheels_disagree_with_carry"


@pytest.fixture(scope="module")
def unsure_photo(heldout_photos):
    """A held-out render whose wheels read unsurely (low_confidence) though its digits are right."""
    real = pipeline.second_opinion
    try:
        pipeline.second_opinion = lambda bgr, lay, digits, conf=None: pipeline.SecondOpinion(None)
        from ocr_reader.api import read_photo

        for data, truth in heldout_photos:
            r = read_photo(data)
            if r.reason == "low_confidence" and r.reading.replace(".", "") == truth.reading.replace(".", ""):
                return data, truth
    finally:
        pipeline.second_opinion = real
    pytest.fail("no held-out render read right but unsurely")


def test_a_reading_the_second_reader_confirms_is_stored_and_says_so(unsure_photo, monkeypatch):
    from ocr_reader.api import read_photo

    data, truth = unsure_photo
    monkeypatch.setattr(
        pipeline, "second_opinion", lambda bgr, lay, d, conf=None: _opinion(d, "".join(map(str, d)))
    )
    r = read_photo(data)
    assert not r.needs_review and r.second_reader == "agrees"
    assert r.confidence < pipeline.REVIEW_CONFIDENCE  # the wheels' own confidence is reported as it is


def test_a_disagreeing_second_reader_keeps_the_review_and_offers_its_reading(unsure_photo, monkeypatch):
    from ocr_reader.api import read_photo

    data, truth = unsure_photo
    n = len(truth.reading.replace(".", ""))
    other = ("9" * n) if not truth.reading.startswith("9") else ("1" * n)
    monkeypatch.setattr(pipeline, "second_opinion", lambda bgr, lay, d, conf=None: _opinion(d, other))
    r = read_photo(data)
    assert r.needs_review and r.reason == "low_confidence" and r.second_reader == "disagrees"
    assert any(a["why"] == "second_reader" and a["reading"].replace(".", "") == other for a in r.alternatives)


def test_black_wheels_the_second_reader_reads_alike_give_the_whole_m3(heldout_photos, monkeypatch):
    """Every wheel read unsurely; the second reader reads the black wheels alike but a red one otherwise:
    the black wheels' whole m3 is stored and says so. Without that agreement the reading waits."""
    from ocr_reader.api import read_photo

    for data, _truth in heldout_photos:
        r = read_photo(data)
        still = not any(w["rolling"] for w in r.wheels[: r.integer_digits])
        if (
            not r.needs_review
            and r.decimal_digits >= 1
            and r.integer_digits >= pipeline.MIN_WHOLE_WHEELS
            and still
        ):
            break
    else:
        pytest.fail("no held-out render with red wheels read surely")
    monkeypatch.setattr(pipeline, "REVIEW_CONFIDENCE", 1.01)  # no wheel is sure enough on its own
    monkeypatch.setattr(pipeline, "decimal_doubt", lambda ev, d: False)
    digits = r.reading.replace(".", "")
    other = digits[:-1] + str((int(digits[-1]) + 5) % 10)  # the last red wheel read otherwise
    monkeypatch.setattr(pipeline, "second_opinion", lambda bgr, lay, d, conf=None: _opinion(d, other))
    w = read_photo(data)
    assert not w.needs_review and w.second_reader == "agrees_on_black_wheels"
    assert w.decimals_dropped == r.decimal_digits and w.reading == r.reading.split(".")[0]
    black_otherwise = str((int(digits[r.integer_digits - 1]) + 5) % 10)
    other = digits[: r.integer_digits - 1] + black_otherwise + digits[r.integer_digits :]
    w = read_photo(data)
    assert w.needs_review and w.reason == "low_confidence" and w.second_reader == "disagrees"
    # in review, the digit the second reader is sure of on that unsure still wheel is shown first
    assert w.reading.replace(".", "") == other and w.reading.index(".") == r.reading.index(".")
    assert w.alternatives[0] == {
        "reading": r.reading,
        "value_m3": r.value_m3,
        "why": "wheels_alone",
        "fit": None,
    }


def test_an_unsure_still_wheel_takes_the_digit_the_second_reader_is_sure_of():
    wheels = [
        {"confidence": 0.95, "rolling": False},
        {"confidence": 0.64, "rolling": False},  # unsure and still: the second reader's 7 (0.99) wins
        {"confidence": 0.64, "rolling": True},  # rolling: the carry rule reads it, never the second reader
        {"confidence": 0.95, "rolling": False},  # sure: kept
        {"confidence": 0.60, "rolling": False},  # the second reader not sure enough (0.8): kept
    ]
    op = pipeline.SecondOpinion("37952", per_wheel=((3, 0.99), (7, 0.99), (9, 0.99), (5, 0.99), (2, 0.8)))
    assert pipeline._second_digits([3, 1, 8, 6, 4], wheels, op) == [3, 7, 8, 6, 4]
    views_differ = pipeline.SecondOpinion(
        "3?952", per_wheel=((3, 0.99), (None, 0.99), (9, 0.99), (5, 0.99), (2, 0.8))
    )
    assert pipeline._second_digits([3, 1, 8, 6, 4], wheels, views_differ) == [3, 1, 8, 6, 4]
    assert pipeline._second_digits([3, 1, 8, 6, 4], wheels, pipeline.SecondOpinion("3795")) == [3, 1, 8, 6, 4]


def test_a_row_the_second_reader_reads_upright_has_no_turned_rival():
    # 3, 4 and 7 turned half a turn look like no digit: read surely, they show the row is upright
    assert pipeline._reads_upright([0, 0, 3, 6, 1, 6, 0, 3], 7, 5)
    assert not pipeline._reads_upright([0, 0, 3, 6, 1, 6, 0, 3], 4, 5)  # the lead must cover the black wheels
    assert not pipeline._reads_upright([0, 0, 1, 8, 6, 9, 0, 5], 8, 5)  # turned, still digits: in doubt
    assert not pipeline._reads_upright([3, 4, 7], 3, 0)


def test_the_turned_twin_of_a_row_read_upright_stops_competing(heldout_photos, monkeypatch):
    """The chosen row of a held-out render, with its own turned twin made a rival: the real second reader
    reads the row upright (a 3, 4 or 7 among its black wheels), so the twin is dropped and the reading is
    stored; without that check it waits as orientation_uncertain."""
    from ocr_reader.api import read_photo
    from ocr_reader.decode import decode_photo

    for data, _truth in heldout_photos:
        r = read_photo(data)
        digits = [w["digit"] for w in r.wheels]
        if r.needs_review or not pipeline._reads_upright(digits, len(digits), r.integer_digits):
            continue
        bgr = decode_photo(data)
        if pipeline.second_opinion(bgr, pipeline.choose_window(bgr), digits).sure_lead >= r.integer_digits:
            break
    else:
        pytest.fail("no held-out render the second reader reads upright, a 3, 4 or 7 among its black wheels")
    real = pipeline.choose_window

    def with_twin(bgr, window=None, boxes=None):
        chosen = real(bgr, window, boxes)
        twin = pipeline.best_layout(bgr, pipeline._turned(chosen.candidate))
        assert twin is not None
        twin.turned = True
        chosen.rivals = [twin]
        return chosen

    monkeypatch.setattr(pipeline, "choose_window", with_twin)
    w = read_photo(data)
    assert not w.needs_review and w.reading == r.reading
    assert any(a["why"] == "turned_over" for a in w.alternatives)  # still offered, should a person look
    monkeypatch.setattr(pipeline, "ORIENT_BY_TEXT", False)
    assert read_photo(data).reason == "orientation_uncertain"
