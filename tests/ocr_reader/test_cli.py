"""`python -m ocr_reader IMAGE...` prints one JSON object per image and fails on bad files."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ocr_reader", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_reads_good_photos(tmp_path, one_photo):
    data, truth = one_photo
    path = tmp_path / "meter.jpg"
    path.write_bytes(data)
    proc = _run(str(path))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip())
    assert out["file"] == str(path)
    assert out["reading"] == truth.reading
    assert {"value_m3", "confidence", "needs_review", "wheels"} <= set(out)


def test_cli_reports_bad_files_and_exits_non_zero(tmp_path, one_photo):
    good = tmp_path / "good.jpg"
    good.write_bytes(one_photo[0])
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    missing = tmp_path / "missing.jpg"
    proc = _run(str(good), str(text), str(missing))
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [line["file"] for line in lines] == [str(good), str(text), str(missing)]
    assert "error" not in lines[0]
    assert lines[1]["reason"] == "not_an_image" and lines[1]["error"]
    assert lines[2]["reason"] == "unreadable"
