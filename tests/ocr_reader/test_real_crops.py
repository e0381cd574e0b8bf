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
