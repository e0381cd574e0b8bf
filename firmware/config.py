"""Firmware configuration: defaults, the site file, and validation of changes."""

FW_VERSION = "0.2.0"

# Site values (Wi-Fi, broker, meter id) live in site_config.json, never committed.
DEFAULTS = {
    "meter_id": None,
    "wifi_ssid": "",
    "wifi_password": "",
    "broker_host": "127.0.0.1",
    "broker_port": 1883,
    "mqtt_user": None,
    "mqtt_password": None,
    "mqtt_tls": False,
    "mqtt_ca": "ca.crt",  # PEM of the CA that signed the broker's certificate (file in flash)
    "ota_key": "ota_key.hex",  # RSA-2048 public modulus (hex) that signs updates (file in flash)
    "keepalive_s": 120,
    "topic_prefix": "wm/v1",
    "interval_s": 60,
    "l_per_pulse": 1.0,
    "counter_pin": 4,
    "sensor": "reed",  # "reed" (bouncing contact) or "hall" (clean edges); see counter.py
    "edge": "falling",  # the edge that starts a pulse: "falling" (switch to GND) or "rising"
    "pull": "up",  # "up", "down" or "none"
    "debounce_ms": 5,
    "counter_poll_s": 5,
    "counter": "auto",  # "auto", "ulp", "pcnt" or "irq" (auto: ulp for reeds, pcnt for hall sensors)
    "commit_l": 2.0,  # flash commit once this many litres are uncommitted
    "max_batch": 60,
    "buffer_max": 2880,  # flash ring: 48 h of readings at 60 s
    "ntp_host": "pool.ntp.org",
    "ntp_resync_s": 21600,
    "wdt_s": 120,
    "mode": "mains",  # "mains" (always on) or "battery" (deep sleep, ULP counting, upload every upload_min)
    "upload_min": 60,  # battery mode: minutes between uploads
    "factory_reset_pin": 0,  # held low at boot for 5 s: erase the site file and credentials (BOOT button)
    "ha_discovery": True,
    "ha_prefix": "homeassistant",
}

try:  # the build's default mode (devservices/build_firmware.py); the site file may override it
    import buildinfo

    DEFAULTS["mode"] = buildinfo.MODE
except ImportError:  # running from source
    pass

LIMITS = {
    "interval_s": (10, 3600, "s"),
    "l_per_pulse": (0.001, 1000, "L"),
    "set_total_l": (0, 1e12, "L"),
}

def check_limit(key, value):
    """None when value is within the limits of key, else a reason naming the limit."""
    lo, hi, unit = LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "%s must be a number" % key
    if not lo <= value <= hi:
        return "%s must be %s..%s %s" % (key, _num(lo), _num(hi), unit)
    return None


def _num(x):
    return ("%d" % x) if x == int(x) and abs(x) < 1e9 else ("%g" % x)


def ml_from_litres(value):
    """Exact millilitres from litres given as a number or a decimal string."""
    if isinstance(value, str):
        whole, _, frac = value.partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 3:
            raise ValueError("litres must be a decimal with at most 3 decimals")
        return int(whole) * 1000 + int((frac + "000")[:3])
    return int(round(value * 1000))


def validate_request(req):
    """Check a config request (protocol.md); return (changes, None) or (None, reason)."""
    if not isinstance(req, dict):
        return None, "config must be a JSON object"
    if req.get("v") != 1:
        return None, "unknown config version"
    changes = {}
    for key in req:
        if key in ("v", "id"):
            continue
        if key not in LIMITS:
            return None, "unknown field %s" % key
        value = req[key]
        if key == "set_total_l" and isinstance(value, str):
            try:
                ml = ml_from_litres(value)
            except ValueError as err:
                return None, "set_total_l: %s" % err
            value = ml / 1000
        err = check_limit(key, value)
        if err:
            return None, err
        if key == "interval_s" and value != int(value):
            return None, "interval_s must be whole seconds"
        changes[key] = req[key]
    if not changes:
        return None, "config request changes nothing"
    return changes, None
