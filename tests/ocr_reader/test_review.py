"""Which readings wait for a person, and why (pipeline.review_reason)."""

from __future__ import annotations

import numpy as np

from ocr_reader import pipeline
from ocr_reader.locate import Candidate


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
