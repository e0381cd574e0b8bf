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


def load(path="site_config.json"):
    """Defaults overlaid with the site file; raises ValueError naming a bad field."""
    import json

    cfg = dict(config.DEFAULTS)
    with open(path) as f:
        cfg.update(json.load(f))
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
    for key, lo, hi in (("debounce_ms", 0, 100), ("counter_poll_s", 1, 60), ("commit_l", 0.001, 1000),
                        ("max_batch", 1, 60), ("buffer_max", 60, 100000), ("wdt_s", 10, 3600),
                        ("ntp_resync_s", 600, 604800), ("keepalive_s", 0, 65535)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            return "%s must be %s..%s" % (key, config._num(lo), config._num(hi))
    return None
