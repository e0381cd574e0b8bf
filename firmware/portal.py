"""Safe mode: a set-up access point and a page to enter Wi-Fi and broker settings, instead of the REPL.

Started when the site file is missing or bad, or after a factory reset. The board opens
the WPA2 access point `wm-setup-XXXXXX` (key `wm-` + the last 8 hex digits of its MAC,
printed on the console and meant for the label) and serves a form at
http://192.168.4.1/. A posted form is checked like the site file; secrets go to NVS
(creds.py), the rest to site_config.json, and the board restarts. The watchdog is fed
meanwhile; after `timeout_s` without a valid form the board restarts and tries again.
"""

import time

_FIELDS = ("meter_id", "wifi_ssid", "wifi_password", "broker_host", "broker_port", "mqtt_user",
           "mqtt_password", "mqtt_tls", "l_per_pulse", "sensor")
_MAX_REQUEST = 2048

_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>Water meter set-up</title></head><body><h1>Water meter set-up</h1><p>%s</p>
<form method="post"><p>Meter id <input name="meter_id" value="%s"></p>
<p>Wi-Fi name <input name="wifi_ssid"></p><p>Wi-Fi password <input name="wifi_password" type="password"></p>
<p>Broker host <input name="broker_host"></p><p>Broker port <input name="broker_port" value="8883"></p>
<p>MQTT user <input name="mqtt_user"></p><p>MQTT password <input name="mqtt_password" type="password"></p>
<p>TLS <input name="mqtt_tls" value="1"></p><p>Litres per pulse <input name="l_per_pulse" value="1"></p>
<p>Sensor (reed or hall) <input name="sensor" value="reed"></p>
<p><button>Save and restart</button></p></form></body></html>"""


def _unquote(s):
    s = s.replace("+", " ")
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "%" and i + 2 < len(s):
            try:
                out.append(int(s[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:  # not an escape: keep the character
                pass
        out.extend(c.encode())
        i += 1
    return out.decode()


def parse_form(body):
    """application/x-www-form-urlencoded to a dict of the known fields."""
    doc = {}
    for part in body.split("&"):
        key, _, value = part.partition("=")
        key = _unquote(key)
        if key in _FIELDS:
            doc[key] = _unquote(value)
    return doc


def site_doc(form):
    """The site-file document (typed) for a posted form; secrets included (creds.py moves them)."""
    doc = {k: v for k, v in form.items() if v != ""}
    if "broker_port" in doc:
        doc["broker_port"] = int(doc["broker_port"])
    if "l_per_pulse" in doc:
        doc["l_per_pulse"] = float(doc["l_per_pulse"])
    if "mqtt_tls" in doc:
        doc["mqtt_tls"] = doc["mqtt_tls"] in ("1", "on", "true", "yes")
    return doc


def _answer(conn, status, text):
    body = text.encode()
    conn.write(b"HTTP/1.0 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % (status.encode(), len(body)))
    conn.write(body)


def _read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(256)  # recv: what has arrived (read(n) waits for all n bytes)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_REQUEST:
            return None, None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method = lines[0].split(" ")[0] if lines else ""
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length > _MAX_REQUEST:
        return None, None
    while len(body) < length:
        chunk = conn.recv(min(256, length - len(body)))
        if not chunk:
            break
        body += chunk
    return method, body.decode()


def handle(conn, reason, meter_id, path="site_config.json"):
    """Serve one request; True when a valid configuration was saved."""
    import creds
    import siteconf

    method, body = _read_request(conn)
    if method is None:
        _answer(conn, "413 Too Large", "request too large")
        return False
    if method != "POST":
        _answer(conn, "200 OK", _PAGE % (reason, meter_id or ""))
        return False
    try:
        doc = site_doc(parse_form(body))
        import config

        cfg = dict(config.DEFAULTS)
        cfg.update(doc)
        siteconf.check(cfg)
    except (ValueError, TypeError, KeyError) as err:
        _answer(conn, "400 Bad Request", "Not saved: %s" % err)
        return False
    import json

    with open(path, "w") as f:
        json.dump(doc, f)
    creds.migrate(path, doc)
    _answer(conn, "200 OK", "Saved. The meter restarts and connects to %s." % doc.get("wifi_ssid"))
    return True


def run(reason, watchdog=None, timeout_s=900, meter_id=None):
    """Serve the set-up page until a valid form arrives (then reset) or timeout_s passes (then reset)."""
    import machine
    import network
    import socket

    print("safe mode:", reason)
    sta = network.WLAN(network.STA_IF)
    try:
        sta.active(False)
    except OSError:  # already off
        pass
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    mac = machine.unique_id()
    essid = "wm-setup-%02x%02x%02x" % (mac[-3], mac[-2], mac[-1])
    key = "wm-%02x%02x%02x%02x" % (mac[-4], mac[-3], mac[-2], mac[-1])
    try:
        ap.config(essid=essid, key=key, authmode=3)  # WPA2-PSK
    except (OSError, TypeError, ValueError):  # older ports: essid and password names differ
        ap.config(essid=essid, password=key)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 80))
    srv.listen(2)
    srv.setblocking(False)
    print("safe mode: join Wi-Fi %s (key %s) and open http://192.168.4.1/" % (essid, key))
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < timeout_s * 1000:
        if watchdog is not None:
            watchdog.feed()
        try:
            conn, _addr = srv.accept()
        except OSError:  # nobody yet
            time.sleep_ms(200)
            continue
        saved = False
        try:
            conn.settimeout(5)
            saved = handle(conn, reason, meter_id)
        except (OSError, ValueError) as err:  # a broken request: keep serving
            print("safe mode: request failed:", err)
        finally:
            conn.close()
        if saved:
            print("safe mode: configuration saved, restarting")
            time.sleep_ms(500)
            machine.reset()
    print("safe mode: nobody configured the meter; restarting")
    machine.reset()
