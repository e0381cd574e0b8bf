"""Installing a board on a meter whose register already shows a total: the state the firmware restores.

A retrofit board goes onto a meter that has counted for years; the installer gives it the register's
total so it counts on from there. Here that is the firmware's own commit record (firmware/store.py,
loaded as plain Python), handed to the board as an installer file: the simulated boot copies it onto
the fresh littlefs flash before the firmware's first power-on, as `mpremote fs cp` would.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from functools import cache
from types import ModuleType

from hardware_sim.device import FIRMWARE_DIR, SimulatorError

STORE_MAGIC = b"WMr3"  # the commit-record layout this installer writes (firmware/store.py)


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


def register_files(total_ml: int, seq: int, boot: int, last_ts_s: int) -> dict[str, bytes]:
    """Installer files that start a board at register total_ml (last reading seq at last_ts_s, boot)."""
    store = firmware_store()
    if getattr(store, "_MAGIC", None) != STORE_MAGIC:
        raise SimulatorError("firmware/store.py changed its commit record: update hardware_sim/install.py")
    # acked = seq: every reading up to seq is stored already; the lease is seq itself, so the board's
    # next reading is seq + 1 and its next commit leases 16 ahead.
    return {store.COMMIT_FILE: store.pack_state(boot, seq, seq, 0, total_ml, last_ts_s, seq)}
