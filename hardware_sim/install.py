"""Installing a board on a meter whose register already shows a total: the state the firmware restores.

A retrofit board goes onto a meter that has counted for years; the installer gives it the register's
total so it counts on from there. Here that is the firmware's own commit record (firmware/store.py,
loaded as plain Python), written into the board's flash directory before its first power-on.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from functools import cache
from pathlib import Path
from types import ModuleType

from hardware_sim.device import FIRMWARE_DIR, SimulatorError

STORE_MAGIC = b"WMr1"  # the commit-record layout this installer writes (firmware/store.py)


@cache
def firmware_store() -> ModuleType:
    """firmware/store.py in CPython (its only MicroPython import, `const`, is the identity)."""
    sys.modules.setdefault("micropython", types.SimpleNamespace(const=lambda x: x))  # type: ignore[arg-type]
    spec = importlib.util.spec_from_file_location("_wm_fw_store", FIRMWARE_DIR / "store.py")
    if spec is None or spec.loader is None:
        raise ImportError("cannot load firmware/store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def install_register(flash_dir: Path, total_ml: int, seq: int, boot: int) -> None:
    """Give a board's flash the commit record of a register at total_ml (last reading seq, boot)."""
    store = firmware_store()
    if getattr(store, "_MAGIC", None) != STORE_MAGIC:
        raise SimulatorError("firmware/store.py changed its commit record: update hardware_sim/install.py")
    flash_dir.mkdir(parents=True, exist_ok=True)
    (flash_dir / store.COMMIT_FILE).write_bytes(store.pack_state(boot, seq, seq, 0, total_ml))
