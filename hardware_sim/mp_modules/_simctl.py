"""Link between simulated hardware in MicroPython and the host simulator.

The host owns virtual time. When the firmware sleeps, this module writes
`@@s <ms>` on stdout and blocks until the host answers on stdin with
`t <virtual_ms> <pulses> <wifi_up> [<ntp_up> <bounce_edges> <rtc_jump_ms>]`
(pulses that arrived during the sleep, and the state of the world) or `q` (stop).
`@@r <cause>` on stdout tells the host the board reset itself (watchdog, machine.reset).
Everything else the firmware prints is a log line.
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
wifi_up = True
ntp_up = True
bounce_edges = 0
pulses_pending = 0
window_start_ms = virt_ms
edge_us = None  # while an edge is delivered: the edge's time in us


def _exchange(ms):
    global virt_ms, wifi_up, ntp_up, bounce_edges, rtc_offset_ms, pulses_pending, window_start_ms
    sys.stdout.write("@@s %d\n" % ms)
    line = sys.stdin.readline()
    if not line or line[0] == "q":
        raise SystemExit(0)
    parts = line.split()
    window_start_ms = virt_ms
    virt_ms = int(parts[1])
    pulses_pending += int(parts[2])
    wifi_up = parts[3] == "1"
    if len(parts) > 6:
        ntp_up = parts[4] == "1"
        bounce_edges = int(parts[5])
        rtc_offset_ms += int(parts[6])
    import machine

    machine._check_wdt()
    # Pulse edges reach whatever counter or IRQ the firmware set up.
    machine._deliver_pulses()


def reset(cause):
    """The board resets itself: tell the host, and stop this process."""
    sys.stdout.write("@@r %s\n" % cause)
    raise SystemExit(3)


def sleep_ms(ms):
    _exchange(int(ms))


def take_pulses():
    global pulses_pending
    n = pulses_pending
    pulses_pending = 0
    return n


def real_ticks_ms():
    return utime.ticks_ms()
