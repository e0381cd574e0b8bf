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


def test_cli_builds_both_modes_for_production(tmp_path):
    assert main(["--out", str(tmp_path / "fw")]) == 0
    for mode in ("mains", "battery"):
        assert (tmp_path / "fw" / mode / "app.mpy").exists()
        assert (tmp_path / "fw" / mode / "battery.mpy").exists()
        assert (tmp_path / "fw" / mode / "buildinfo.mpy").exists()
        assert (tmp_path / "fw" / mode / "main.py").exists()


def test_production_flag_and_mode_are_in_the_build(tmp_path):
    import subprocess

    from devservices.build_firmware import build_mode
    from hardware_sim.device import micropython_binary

    build_mode(tmp_path / "b", "battery", production=True, march=None)
    out = subprocess.run([micropython_binary(), "-c", "import buildinfo, config; "
                          "print(buildinfo.PRODUCTION, config.DEFAULTS['mode'])"],
                         env={"MICROPYPATH": f"{tmp_path / 'b'}:.frozen"}, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "battery"], out.stdout + out.stderr


def test_ulp_program_matches_its_source():
    """firmware/ulp_prog.py is what micropython-esp32-ulp makes of firmware/ulp_counter.S today."""
    from devservices.build_firmware import ULP_MODULE, assemble_ulp, ulp_module_text

    binary, symbols = assemble_ulp()
    assert binary[:4] == b"ulp\x00"
    assert {"entry", "count", "taken", "magic"} <= set(symbols)
    assert ULP_MODULE.read_text() == ulp_module_text(binary, symbols), \
        "ulp_prog.py is stale: python -m devservices.build_firmware --ulp"


def test_provisioned_files_for_a_board(tmp_path):
    """devservices.provision writes what a board needs: site file, the CA it pins, the update key."""
    import json

    from devservices.provision import provision_meter

    site = provision_meter("m-0042", tmp_path / "broker", tmp_path / "out" / "m-0042" / "site_config.json",
                           "localhost", 8883, wifi_ssid="home", wifi_password="pw", mode="battery",
                           ota_key=tmp_path / "ota.pem")
    files = {p.name for p in (tmp_path / "out" / "m-0042").iterdir()}
    assert files == {"site_config.json", "ca.crt", "ota_key.hex"}
    doc = json.loads((tmp_path / "out" / "m-0042" / "site_config.json").read_text())
    assert doc == site and doc["mode"] == "battery" and doc["mqtt_tls"] is True
    modulus = (tmp_path / "out" / "m-0042" / "ota_key.hex").read_text().strip()
    assert len(modulus) == 512 and int(modulus, 16) > 0  # RSA-2048
