"""The site file (site_config.json): read and checked once at boot, then unloaded to free RAM."""

import config

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def valid_meter_id(meter_id):
    """True when meter_id is 1-32 characters of [A-Za-z0-9_-]."""
    if not isinstance(meter_id, str) or not 1 <= len(meter_id) <= 32:
        return False
    for ch in meter_id:
        if ch not in _ID_CHARS:
            return False
    return True


def read(path="site_config.json"):
    """The site file as a dict; OSError when missing, ValueError when not a JSON object."""
    import json

    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise ValueError("the site file must hold a JSON object")
    return doc


def load(path="site_config.json"):
    """Defaults overlaid with the site file and the NVS credentials; raises ValueError naming a bad field."""
    import creds

    doc = read(path)
    creds.migrate(path, doc)
    cfg = dict(config.DEFAULTS)
    cfg.update(doc)
    creds.load(cfg)
    return check(cfg)


def check(cfg):
    """cfg itself when every field is usable; raises ValueError naming the first bad one."""
    if not valid_meter_id(cfg["meter_id"]):
        raise ValueError("meter_id must be 1-32 characters of [A-Za-z0-9_-]")
    for key in ("interval_s", "l_per_pulse"):
        err = config.check_limit(key, cfg[key])
        if err:
            raise ValueError(err)
    err = check_site(cfg)
    if err:
        raise ValueError(err)
    return cfg


def check_site(cfg):
    """None when the board-only settings are usable, else a reason naming the field."""
    if cfg["sensor"] not in ("reed", "hall"):
        return "sensor must be reed or hall"
    if cfg["edge"] not in ("falling", "rising"):
        return "edge must be falling or rising"
    if cfg["pull"] not in ("up", "down", "none"):
        return "pull must be up, down or none"
    if cfg["counter"] not in ("auto", "ulp", "pcnt", "irq"):
        return "counter must be auto, ulp, pcnt or irq"
    if cfg["mode"] not in ("mains", "battery"):
        return "mode must be mains or battery"
    for key in ("wifi_ssid", "broker_host"):
        if not isinstance(cfg[key], str) or not cfg[key]:
            return "%s must be set" % key
    for key, lo, hi in (("debounce_ms", 0, 100), ("counter_poll_s", 1, 60), ("commit_l", 0.001, 1000),
                        ("max_batch", 1, 60), ("buffer_max", 60, 100000), ("wdt_s", 10, 3600),
                        ("ntp_resync_s", 600, 604800), ("keepalive_s", 0, 65535),
                        ("broker_port", 1, 65535), ("upload_min", 1, 1440)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            return "%s must be %s..%s" % (key, config._num(lo), config._num(hi))
    return None


def factory_reset_held(pin_no, hold_ms=5000):
    """True when the button on pin_no is held low for hold_ms at boot."""
    import machine
    import time

    pin = machine.Pin(pin_no, machine.Pin.IN, machine.Pin.PULL_UP)
    if pin.value():
        return False
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < hold_ms:
        if pin.value():
            return False
        time.sleep_ms(100)
    return True


def factory_reset(path="site_config.json"):
    """Forget the site file and every stored secret; the meter's readings and total stay."""
    import os

    import creds

    try:
        os.remove(path)
    except OSError:  # already gone
        pass
    creds.erase()
    print("factory reset: site file and credentials erased")
