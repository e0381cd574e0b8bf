"""`make firmware`: every module compiles with mpy-cross for the ESP32; a broken one fails loudly."""

from __future__ import annotations

import pytest

from devservices.build_firmware import FIRMWARE_DIR, BuildError, build, main


def test_every_module_compiles_for_xtensawin(tmp_path):
    files = build(tmp_path)
    names = {f.name for f in files}
    modules = {p.stem for p in FIRMWARE_DIR.glob("*.py")} - {"main"}
    assert {m + ".mpy" for m in modules} <= names
    assert "main.py" in names
    for f in files:
        if f.suffix == ".mpy":
            data = f.read_bytes()
            # mpy v6 bytecode; the arch byte stays 0 while no module holds native code,
            # so the same files load on any MicroPython >= 1.23 board.
            assert data[0:1] == b"M" and data[1] == 6, f"{f.name} is not an mpy v6 file"


def test_syntax_error_fails_the_build(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.py").write_text("def broken(:\n")
    with pytest.raises(BuildError, match="bad.py"):
        build(tmp_path / "out", src=src)


def test_cli_exit_code(tmp_path):
    assert main(["--out", str(tmp_path / "fw")]) == 0
    assert (tmp_path / "fw" / "app.mpy").exists()


def test_ulp_program_matches_its_source():
    """firmware/ulp_prog.py is what micropython-esp32-ulp makes of firmware/ulp_counter.S today."""
    from devservices.build_firmware import ULP_MODULE, assemble_ulp, ulp_module_text

    binary, symbols = assemble_ulp()
    assert binary[:4] == b"ulp\x00"
    assert {"entry", "count", "taken", "magic"} <= set(symbols)
    assert ULP_MODULE.read_text() == ulp_module_text(binary, symbols), \
        "ulp_prog.py is stale: python -m devservices.build_firmware --ulp"
