"""Which readings wait for a person, and why (pipeline.review_reason)."""

from __future__ import annotations

import numpy as np

from ocr_reader import pipeline
from ocr_reader.locate import Candidate
from ocr_reader.recognise import WheelGuess


def _layout(**flags) -> pipeline.Layout:
    cand = Candidate(np.zeros((4, 2), np.float32), 1.0, 4.0, 0.02)
    lay = pipeline.Layout(cand, np.zeros((64, 64, 3), np.uint8), 4, 0.04, [], [], 0.9, 0.1, (0, 0))
    for k, v in flags.items():
        setattr(lay, k, v)
    return lay


def _wheels(*confs_rolling: tuple[float, bool]) -> list[dict]:
    return [{"confidence": c, "rolling": r} for c, r in confs_rolling]


STILL, ROLLING = pipeline.REVIEW_CONFIDENCE, pipeline.ROLLING_REVIEW_CONFIDENCE


def test_a_sure_reading_is_stored():
    wheels = _wheels((STILL + 0.02, False), (ROLLING + 0.01, True))
    assert pipeline.review_reason(True, _layout(), 0.5, wheels) is None


def test_a_rolling_wheel_must_be_read_more_surely_than_a_still_one():
    assert STILL < ROLLING
    between = (STILL + ROLLING) / 2
    still = _wheels((0.99, False), (between, False))
    rolling = _wheels((0.99, False), (between, True))
    assert pipeline.review_reason(True, _layout(), 0.5, still) is None
    assert pipeline.review_reason(True, _layout(), 0.5, rolling) == "rolling_wheel_unsure"
    assert pipeline.review_reason(True, _layout(), 0.5, _wheels((STILL - 0.05, False))) == "low_confidence"


def test_rival_rows_and_orientation_are_reasons():
    sure = _wheels((0.99, False))
    other = _layout()
    assert pipeline.review_reason(True, _layout(rivals=[other]), 0.5, sure) == "another_row_reads_as_wheels"
    turned = _layout(turned=True)
    assert pipeline.review_reason(True, _layout(rivals=[other, turned]), 0.5, sure) == "orientation_uncertain"


def test_reasons_come_in_order_of_how_much_they_say():
    sure = _wheels((0.95, False))
    assert (
        pipeline.review_reason(False, _layout(outline_guessed=True), 0.05, sure)
        == "wheels_disagree_with_carry"
    )
    assert pipeline.review_reason(True, _layout(outline_guessed=True), 0.05, sure) == "window_not_outlined"
    assert pipeline.review_reason(True, _layout(maybe_partial=True), 0.05, sure) == "wheel_count_uncertain"
    assert pipeline.review_reason(True, _layout(maybe_partial=True), 0.5, sure) == "window_may_continue"


def _row(source: str, digits: list[int], red_last: bool = False, beyond=(False, True)) -> pipeline.Layout:
    """A row of black wheels on a dark face (the last one red when asked), as the chain or cut holds it."""
    import cv2

    crops = []
    for i, d in enumerate(digits):
        red = red_last and i == len(digits) - 1
        img = np.full((64, 40, 3), (30, 30, 200) if red else (25, 25, 25), np.uint8)
        cv2.putText(img, str(d), (6, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (230, 230, 230), 2)
        crops.append(img)
    cand = Candidate(np.zeros((4, 2), np.float32), 1.0, 4.0, 0.02, source)
    guesses = [WheelGuess(float(d), 0.98, 0.01) for d in digits]
    lay = pipeline.Layout(
        cand, np.zeros((64, 64, 3), np.uint8), len(digits), 0.0, crops, guesses, 0.97, 0.1, (0, 0)
    )
    lay.beyond_sides = beyond
    return lay


def test_a_wheel_beyond_a_text_row_the_chain_saw_keeps_the_window_open():
    # An 8-wheel counter whose half-turned last wheel the text detector left out: the equal cut's
    # one look beyond missed it, the chain sliding past the end saw it (a silent 7-wheel reading).
    seven = [8, 6, 1, 7, 1, 5, 1]
    assert pipeline._chain_doubts_ends(_row("text", seven), _row("text", seven))
    assert pipeline._chain_doubts_ends(_row("text", seven, beyond=(True, False)), _row("text", seven))


def test_the_chains_doubt_does_not_count_where_a_counter_cannot_continue():
    seven = [8, 6, 1, 7, 1, 5, 1]
    assert not pipeline._chain_doubts_ends(_row("frame", seven), _row("frame", seven))  # beyond: the frame
    assert not pipeline._chain_doubts_ends(_row("text", seven, red_last=True), _row("text", seven, True))
    eight = seven + [2]
    assert not pipeline._chain_doubts_ends(_row("text", eight), _row("text", eight))  # the most wheels
    other = [8, 6, 1, 7, 1, 5, 4]
    assert not pipeline._chain_doubts_ends(_row("text", other), _row("text", seven))  # other wheels
    assert not pipeline._chain_doubts_ends(_row("text", seven, beyond=(False, False)), _row("text", seven))


def test_a_chain_holding_more_wheels_than_the_kept_cut_keeps_the_window_open():
    # An 8-wheel counter (86171511) whose last wheel the text detector left out: the chain held all
    # 8 wheels but was not taken (the lost wheel read too weakly), the equal cut's 7 were kept, and
    # only a chain of as many wheels as the cut counted as a doubt (a silent 7-wheel reading).
    seven = [8, 6, 1, 7, 1, 5, 1]
    shut = (False, False)  # nothing wheel-like a pitch beyond the chain itself
    assert pipeline._chain_doubts_ends(_row("text", seven + [1], beyond=shut), _row("text", seven))
    assert pipeline._chain_doubts_ends(_row("text", [2] + seven, beyond=shut), _row("text", seven))
    # A leading wheel lost before a red last one, and a chain that reads the cut's digits nowhere.
    assert pipeline._chain_doubts_ends(_row("text", [2] + seven, beyond=shut), _row("text", seven, True))
    assert pipeline._chain_doubts_ends(_row("text", [3] * 8, beyond=shut), _row("text", seven, True))


def test_the_chains_extra_wheel_does_not_count_where_a_counter_cannot_continue():
    seven = [8, 6, 1, 7, 1, 5, 1]
    shut = (False, False)
    assert not pipeline._chain_doubts_ends(_row("frame", seven + [1], beyond=shut), _row("frame", seven))
    # beyond the red (decimal) last wheel lies "m3", not a lost wheel
    assert not pipeline._chain_doubts_ends(
        _row("text", seven + [1], red_last=True, beyond=shut), _row("text", seven, True)
    )
    # a chain of fewer wheels than the cut says nothing about the cut's ends
    assert not pipeline._chain_doubts_ends(_row("text", seven[:6], beyond=(True, True)), _row("text", seven))


def test_the_extra_wheel_sends_the_reading_to_review(monkeypatch):
    # _settle keeps the equal cut (the chain fits no better, its 8th wheel reads weakly) and the
    # reading goes to review as window_may_continue instead of being stored silently.
    seven = [8, 6, 1, 7, 1, 5, 1]
    cut = _row("text", seven)
    chain = _row("text", seven + [1], beyond=(False, False))
    chain.guesses[-1] = WheelGuess(1.0, 0.3, 0.2)
    monkeypatch.setattr(pipeline, "chain_layout", lambda bgr, lay: chain)
    monkeypatch.setattr(pipeline, "extend_layout", lambda bgr, lay: lay)
    kept = pipeline._settle(np.zeros((8, 8, 3), np.uint8), cut)
    assert kept is cut and kept.maybe_partial
    sure = _wheels(*[(0.99, False)] * 7)
    assert pipeline.review_reason(True, kept, 0.5, sure) == "window_may_continue"
