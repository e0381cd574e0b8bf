"""Link between simulated hardware in MicroPython and the host simulator.

The host owns virtual time. When the firmware sleeps, this module writes
`@@s <ms>` on stdout and blocks until the host answers on stdin with
`t <virtual_ms> <pulses> <wifi_up>` (pulses that arrived during the sleep) or
`q` (stop). Everything else the firmware prints is a log line.
"""

import sys

import utime

import os

# Unix time in ms at virtual time 0, and the virtual time this process boots at.
epoch_ms = int(os.getenv("WM_SIM_EPOCH_MS") or "0")
virt_ms = int(os.getenv("WM_SIM_START_MS") or "0")
wifi_up = True
pulses_pending = 0


def _exchange(ms):
    global virt_ms, wifi_up, pulses_pending
    sys.stdout.write("@@s %d\n" % ms)
    line = sys.stdin.readline()
    if not line or line[0] == "q":
        raise SystemExit(0)
    parts = line.split()
    virt_ms = int(parts[1])
    pulses_pending += int(parts[2])
    wifi_up = parts[3] == "1"
    # Pulse edges reach whatever counter or IRQ the firmware set up.
    import machine

    machine._deliver_pulses()


def sleep_ms(ms):
    _exchange(int(ms))


def take_pulses():
    global pulses_pending
    n = pulses_pending
    pulses_pending = 0
    return n


def real_ticks_ms():
    return utime.ticks_ms()
