"""Simulated `esp32`: NVS backed by a JSON file in the meter's flash directory."""

import json


class NVS:
    def __init__(self, namespace):
        self._path = "nvs_%s.json" % namespace
        try:
            with open(self._path) as f:
                self._committed = json.load(f)
        except (OSError, ValueError):
            self._committed = {}
        self._data = dict(self._committed)

    def set_i32(self, key, value):
        self._data[key] = int(value)

    def get_i32(self, key):
        if key not in self._data:
            raise OSError(-4354)  # ESP_ERR_NVS_NOT_FOUND
        return self._data[key]

    def set_blob(self, key, value):
        self._data[key] = list(bytes(value))

    def get_blob(self, key, buf):
        data = self._data[key]
        for i, b in enumerate(data):
            buf[i] = b
        return len(data)

    def erase_key(self, key):
        self._data.pop(key, None)

    def commit(self):
        import os

        with open(self._path + ".tmp", "w") as f:
            json.dump(self._data, f)
        os.rename(self._path + ".tmp", self._path)
        self._committed = dict(self._data)
