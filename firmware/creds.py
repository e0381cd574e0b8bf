"""Credentials in the ESP32's NVS partition instead of the site file.

NVS is a partition of its own: `mpremote fs` does not show it and a filesystem backup or
a littlefs dump does not contain it. It is not encrypted unless ESP-IDF flash encryption
is enabled (it is not in stock MicroPython builds): anyone with the board and a serial
cable can read the whole flash with esptool. See docs/firmware.md.
"""

KEYS = ("wifi_password", "mqtt_password")
_NS = "wm"


def _nvs():
    try:
        import esp32

        return esp32.NVS(_NS)
    except (ImportError, AttributeError, OSError):  # not an ESP32 port
        return None


def load(cfg):
    """Fill the secret fields of cfg from NVS where the site file left them empty."""
    nvs = _nvs()
    if nvs is None:
        return cfg
    buf = bytearray(128)
    for key in KEYS:
        if cfg.get(key):
            continue
        try:
            n = nvs.get_blob(key, buf)
            cfg[key] = bytes(buf[:n]).decode()
        except OSError:  # not stored
            pass
    return cfg


def save(values):
    """Store the given secrets (str) in NVS, committing once. False when there is no NVS."""
    nvs = _nvs()
    if nvs is None:
        return False
    for key in KEYS:
        if values.get(key):
            nvs.set_blob(key, values[key].encode())
    nvs.commit()
    return True


def migrate(path, doc):
    """Move secrets found in the site file into NVS and rewrite the file without them (once)."""
    found = {k: doc[k] for k in KEYS if doc.get(k)}
    if not found or not save(found):
        return
    import json

    clean = {k: v for k, v in doc.items() if k not in KEYS}
    with open(path, "w") as f:
        json.dump(clean, f)
    print("creds: %s moved to NVS" % ", ".join(sorted(found)))


def erase():
    """Forget every stored secret (factory reset)."""
    nvs = _nvs()
    if nvs is None:
        return
    for key in KEYS:
        try:
            nvs.erase_key(key)
        except OSError:  # not stored
            pass
    nvs.commit()
