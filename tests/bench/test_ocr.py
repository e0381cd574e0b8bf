"""bench.ocr's set of household counters whose decimal wheels are drawn black."""

from __future__ import annotations

from ocr_reader import pipeline


def test_unmarked_decimals_are_household_registers_drawn_black():
    from bench.ocr import unmarked_decimals_set

    photos = unmarked_decimals_set(4)
    assert [t.n_wheels for _, t in photos] == [8, 7, 8, 7]
    for _, truth in photos:
        assert truth.n_red == 0 and "." not in truth.reading
        register_m3 = truth.value_units / 10 ** (truth.n_wheels - 5)
        assert 10 <= register_m3 <= 10_000


def test_unmarked_decimals_are_read_as_drawn_and_held_only_by_the_guard(monkeypatch):
    from bench.ocr import score_unmarked, unmarked_decimals_set

    photos = unmarked_decimals_set(4)
    held = score_unmarked(photos)
    assert held["photos"] == 4 and held["read_as_drawn"] >= 3 and held["accepted"] == 0
    monkeypatch.setattr(pipeline, "UNSEEN_DECIMALS_DOUBT", False)
    assert score_unmarked(photos)["accepted"] >= 2  # each 100-1000x the register
