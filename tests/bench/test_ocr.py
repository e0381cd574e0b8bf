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


def test_renders_are_also_scored_on_their_integer_wheels_as_real_photos_are():
    from types import SimpleNamespace

    from bench.ocr import _whole_within_one

    truth = SimpleNamespace(n_wheels=7, n_red=2, value_units=294_012.0)  # 02940.12 m3
    assert _whole_within_one("02940.12", 5, truth)
    assert _whole_within_one("02940.92", 5, truth)  # decimals misread: the integer wheels are right
    assert _whole_within_one("02940", 5, truth)  # decimals left out
    assert _whole_within_one("02941.12", 5, truth)  # one unit off
    assert not _whole_within_one("02950.12", 5, truth)
    assert not _whole_within_one("2940.12", 4, truth)  # a lost leading wheel
    assert not _whole_within_one("029401.2", 6, truth)  # the decimal point one wheel off
    # the last integer wheel waits at its digit until the tenths pass 9 (odometer gearing)
    near = SimpleNamespace(n_wheels=7, n_red=2, value_units=294_095.0)  # 02940.95: shows 02940, turning
    assert _whole_within_one("02940.95", 5, near) and _whole_within_one("02941.00", 5, near)
