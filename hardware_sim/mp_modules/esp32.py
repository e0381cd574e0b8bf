"""Simulated `esp32`: NVS in a host file (its own partition on a board), the ULP's RTC slow memory.

NVS is not in the littlefs partition on a board, so it survives a filesystem format;
here it is `WM_SIM_NVS` (JSON), written on `commit()` only, as the real NVS.
"""

import json
import os

import _simctl

_NVS_PATH = os.getenv("WM_SIM_NVS") or "nvs.json"
_ESP_ERR_NVS_NOT_FOUND = -4354


def _load_all():
    try:
        with open(_NVS_PATH) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class NVS:
    def __init__(self, namespace):
        self._ns = namespace
        self._data = dict(_load_all().get(namespace, {}))

    def set_i32(self, key, value):
        self._data[key] = ["i", int(value)]

    def get_i32(self, key):
        v = self._data.get(key)
        if v is None or v[0] != "i":
            raise OSError(_ESP_ERR_NVS_NOT_FOUND)
        return v[1]

    def set_blob(self, key, value):
        if isinstance(value, str):
            value = value.encode()
        self._data[key] = ["b", list(bytes(value))]

    def get_blob(self, key, buf):
        v = self._data.get(key)
        if v is None or v[0] != "b":
            raise OSError(_ESP_ERR_NVS_NOT_FOUND)
        data = v[1]
        if len(buf) < len(data):
            raise OSError(-4364)  # ESP_ERR_NVS_INVALID_LENGTH
        for i, b in enumerate(data):
            buf[i] = b
        return len(data)

    def erase_key(self, key):
        if key not in self._data:
            raise OSError(_ESP_ERR_NVS_NOT_FOUND)
        del self._data[key]

    def commit(self):
        all_ns = _load_all()
        all_ns[self._ns] = self._data
        tmp = _NVS_PATH + ".tmp"
        with open(tmp, "w") as f:
            json.dump(all_ns, f)
        os.rename(tmp, _NVS_PATH)


# -- RTC slow memory (8 KiB at 0x50000000), shared by the ULP and the main CPU ------------------
_slow = {}


def _rtc_slow_word(offset):
    return _slow.get(offset & ~3, 0)


def _rtc_slow_set(offset, value):
    _slow[offset & ~3] = value & 0xFFFFFFFF


def raw_temperature():
    return 120 + _simctl.rand() % 5
