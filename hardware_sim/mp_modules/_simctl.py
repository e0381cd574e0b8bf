"""Link between simulated hardware in MicroPython and the host simulator.

The host owns virtual time. Virtual time moves only here, in an exchange:

- `@@s <ms> <radio>`: the firmware sleeps (time.sleep_ms); scheduled callbacks run
  on time, as they do while an ESP32 idles in `mp_hal_delay_ms`.
- `@@b <ms> <kind> <radio>`: the firmware is stuck in C for ms (a flash erase, a DNS
  look-up, a TCP connect, a TLS handshake, a socket wait): pin interrupts queue up
  behind it (see machine.py for what each kind lets through).
- `@@d <ms>`: deep sleep; the process ends and the host restarts it `ms` later.
- `@@r <cause>`: the board resets itself (watchdog, machine.reset()).

The host answers `t <virtual_ms> <pulses> <ap_up> <ntp_mode> <bounce_edges>
<rtc_jump_ms>` (pulses that arrived in the window and the state of the world) or `q`
(stop). `<radio>` is 1 while the Wi-Fi radio is on: the host integrates current from
it. Everything else the firmware prints is a log line.
"""

import os
import sys

import utime

# Unix time in ms at virtual time 0, and the virtual time this process boots at.
epoch_ms = int(os.getenv("WM_SIM_EPOCH_MS") or "0")
virt_ms = int(os.getenv("WM_SIM_START_MS") or "0")
# The board's RTC wall clock minus true time (power-on RTC starts at 2000-01-01).
rtc_offset_ms = int(os.getenv("WM_SIM_RTC_OFFSET_MS") or "0")
rtc_path = os.getenv("WM_SIM_RTC_PATH") or ""
reset_cause = int(os.getenv("WM_SIM_RESET_CAUSE") or "1")
# ESP32 RTC_CNTL reset reason of CPU 0 (rtc_get_reset_reason): 1 power-on, 15 brown-out, ...
reset_reason = int(os.getenv("WM_SIM_RESET_REASON") or "1")
mp_version = tuple(int(x) for x in (os.getenv("WM_SIM_MP_VERSION") or "1.26").split("."))
sensor = os.getenv("WM_SIM_SENSOR") or "reed"
counter_pin = int(os.getenv("WM_SIM_COUNTER_PIN") or "4")  # the pin the meter's sensor is wired to
buttons = {}  # other input pins held to a level by the host (a button pressed: 0)
for _b in (os.getenv("WM_SIM_BUTTONS") or "").split(","):
    if "=" in _b:
        buttons[int(_b.split("=")[0])] = int(_b.split("=")[1])  # what is wired to the counter pin: reed or hall
seed = int(os.getenv("WM_SIM_SEED") or "1")
wifi_ssid = os.getenv("WM_SIM_WIFI_SSID") or "sim"
wifi_key = os.getenv("WM_SIM_WIFI_KEY") or "sim"
wake_pulses = int(os.getenv("WM_SIM_WAKE_PULSES") or "0")  # pulses while in deep sleep (ULP model)
wake_span_ms = int(os.getenv("WM_SIM_WAKE_SPAN_MS") or "0")
ap_up = True
wifi_up = True  # kept for modules that ask whether the access point is reachable
ntp_mode = "ok"  # ok | down | bogus | short
bounce_edges = 0
window_start_ms = virt_ms
radio = 0  # set by network.WLAN: 1 while the station or access point is active
busy_depth = 0
_rng_state = (seed * 2654435761 + 12345) & 0x7FFFFFFF


def rand():
    """Deterministic 31-bit pseudo-random numbers (an LCG): the same seed gives the same run."""
    global _rng_state
    _rng_state = (_rng_state * 1103515245 + 12345) & 0x7FFFFFFF
    return _rng_state


def uniform(lo, hi):
    return lo + (hi - lo) * (rand() % 100000) / 100000


def _answer(line):
    global virt_ms, ap_up, wifi_up, ntp_mode, bounce_edges, rtc_offset_ms, window_start_ms
    if not line or line[0] == "q":
        raise SystemExit(0)
    parts = line.split()
    window_start_ms = virt_ms
    virt_ms = int(parts[1])
    pulses = int(parts[2])
    ap_up = wifi_up = parts[3] == "1"
    ntp_mode = parts[4]
    bounce_edges = int(parts[5])
    rtc_offset_ms += int(parts[6])
    for extra in parts[7:]:
        key, _, value = extra.partition("=")
        if key.startswith("btn"):
            buttons[int(key[3:])] = int(value)
        elif key == "cut":  # a power cut at the n-th flash program or erase from now
            import _flashdev

            _flashdev.cut_after = int(value)
    return pulses


def _exchange(head, ms, kind):
    fd = sys.modules.get("_flashdev")
    if fd is not None and kind != "flash" and fd.debt_us >= 1000:
        fd.charge()
    sys.stdout.write(head % ms + " %s %d\n" % (kind, radio))
    pulses = _answer(sys.stdin.readline())
    import machine

    machine._window(window_start_ms, virt_ms, pulses, kind)
    machine._check_wdt()


def sleep_ms(ms):
    """The firmware idles for ms: scheduled callbacks run on time meanwhile."""
    _exchange("@@s %d", max(int(ms), 1), "idle")


def busy(ms, kind):
    """The firmware is blocked in C for ms (flash, dns, connect, tls, wait, cpu)."""
    global busy_depth
    ms = int(ms)
    if ms <= 0:
        return
    busy_depth += 1
    try:
        _exchange("@@b %d", ms, kind)
    finally:
        busy_depth -= 1


def deepsleep(ms):
    """The chip powers down; the host restarts this firmware after ms (reset cause deep sleep)."""
    import esp32

    duty = esp32.ulp_duty() if esp32._ulp["running"] else 0.0
    sys.stdout.write("@@d %d %d\n" % (int(ms), int(duty * 1000000)))
    raise SystemExit(4)


def reset(cause):
    """The board resets itself: tell the host, and stop this process."""
    sys.stdout.write("@@r %s\n" % cause)
    raise SystemExit(3)


def now_us():
    """Virtual microseconds now: the running handler's time while a callback runs."""
    import machine

    t = machine._now_us
    return t if t is not None else virt_ms * 1000


def real_ticks_ms():
    return utime.ticks_ms()
