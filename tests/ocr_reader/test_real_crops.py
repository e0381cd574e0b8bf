"""The real-crop loader: labels from names, makers split for honest validation, LCDs left out."""

from __future__ import annotations

import io
import tarfile

import cv2
import numpy as np
import pytest

from ocr_reader import real_crops


def _jpg(value: int) -> bytes:
    img = np.full((40, 24, 3), 230, np.uint8)
    cv2.putText(img, str(value % 10), (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


@pytest.fixture()
def archive(tmp_path):
    names = [
        "images/collected/watermeter/altair/7.3_a.jpg",  # held out
        "images/collected/watermeter/Techem/2.0_b.jpg",
        "images/collected/watermeter/Techem/9.9_c.jpg",
        "images/collected/watermeter/watermeter_lcd/4.0_d.jpg",  # seven segments: left out
        "images/collected/lcd/lcd_pb/10_e.jpg",
        "images/collected/new/5.8_10_dig7_f.jpg",
        "images/collected/powermeter/ISKRA.T3F-01S1_20250630/1.1_g.jpg",
        "images/collected/gasmeter/GMT/notanumber_h.jpg",
    ]
    path = tmp_path / real_crops.ARCHIVE
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate(names):
            data = _jpg(i)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(tmp_path)


def test_labels_and_makers_from_names():
    assert real_crops.label_of("images/collected/new/5.8_10_dig7_x.jpg") == pytest.approx(5.8)
    assert real_crops.label_of("a/b/10_x.jpg") is None and real_crops.label_of("a/b/x_y.jpg") is None
    assert real_crops.maker_of("images/collected/watermeter/jvi/1.0_x.jpg") == "watermeter/jvi"
    assert real_crops.maker_of("images/collected/lcd2/1.0_x.jpg") is None
    assert real_crops.maker_of("images/collected/powermeter/ISKRA.T3F-01S1_20250630/x.jpg") == (
        "powermeter/ISKRA T3F-01S1"
    )


def test_training_and_held_out_makers_never_mix(archive):
    train = real_crops.load(held_out=False, data_dir=archive)
    held = real_crops.load(held_out=True, data_dir=archive)
    assert sorted(train.y.tolist()) == pytest.approx([1.1, 2.0, 5.8, 9.9])
    assert held.y.tolist() == pytest.approx([7.3]) and held.maker == ["watermeter/altair"]
    assert not set(train.maker) & set(real_crops.HELD_OUT_MAKERS)
    assert train.x.shape[1:] == (40, 24) and train.x.dtype == np.uint8


def test_straddling_cuts_are_made_from_one_maker(archive):
    train = real_crops.load(held_out=False, data_dir=archive)
    junk = real_crops.straddling(train.raw, train.maker, 5, seed=1)
    assert junk.shape == (5, 40, 24)


def test_missing_archive_names_its_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="haverland"):
        real_crops.load(data_dir=str(tmp_path))


def _wheels(n: int = 10) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Ten drawn wheels 0..9 of one make (the composites need 8 or more of a make)."""
    raw = []
    for d in range(n):
        img = np.full((40, 26, 3), 235, np.uint8)
        cv2.putText(img, str(d), (3, 31), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (15, 15, 15), 2)
        raw.append(img)
    return raw, np.arange(n, dtype=np.float32), ["watermeter/Techem"] * n


def test_photo_rows_are_a_new_stream_and_the_default_is_unchanged():
    raw, y, maker = _wheels()
    x0, y0 = real_crops.composite_rows(raw, y, maker, 20, seed=3)
    x1, y1 = real_crops.composite_rows(raw, y, maker, 20, seed=3, photo=False)
    assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
    xp, yp = real_crops.composite_rows(raw, y, maker, 20, seed=3, photo=True)
    xq, yq = real_crops.composite_rows(raw, y, maker, 20, seed=3, photo=True)
    assert np.array_equal(xp, xq) and np.array_equal(yp, yq)  # fixed seeds: the same crops
    assert xp.shape[1:] == (40, 24) and xp.dtype == np.uint8
    assert (yp == -1).sum() == 40  # two junk cuts a row, whatever the damage
    n = min(len(yp), len(y0))
    assert not np.array_equal(xp[:n], x0[:n])


def test_photo_view_damages_a_row_but_keeps_its_shape():
    raw, _, _ = _wheels()
    row = np.hstack(raw)
    rng = np.random.default_rng(0)
    views = [real_crops.photo_view(row, rng) for _ in range(20)]
    assert all(v.shape == row.shape and v.dtype == np.uint8 for v in views)
    assert sum(not np.array_equal(v, row) for v in views) >= 18


def test_a_crop_whose_digit_the_damage_hid_is_not_legible():
    raw, _, _ = _wheels()
    digit = raw[3]
    assert real_crops.legible(digit, digit)
    dim = (digit.astype(np.float32) * 0.4 + 30).astype(np.uint8)  # dimmed: normalising restores it
    assert real_crops.legible(dim, digit)
    blank = np.full_like(digit, 200)
    blank[::7] = 190  # faint lines, no digit
    assert not real_crops.legible(blank, digit)
    yy, xx = np.mgrid[0:40, 0:26]
    glare = digit + 255.0 * np.exp(-((yy - 20) ** 2 + (xx - 13) ** 2) / 128.0)[..., None]
    assert not real_crops.legible(np.clip(glare, 0, 255).astype(np.uint8), digit)  # a glare spot on it
