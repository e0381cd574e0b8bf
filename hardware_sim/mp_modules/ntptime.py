"""Simulated `ntptime`: answers the host's true virtual time when Wi-Fi and NTP are up."""

import _simctl

host = "pool.ntp.org"


def time():
    """Seconds since the port's epoch (1970 on the unix port), like the real ntptime.time()."""
    if not (_simctl.wifi_up and _simctl.ntp_up):
        raise OSError(110)  # ETIMEDOUT: no answer
    return (_simctl.epoch_ms + _simctl.virt_ms) // 1000


def settime():
    t = time()
    _simctl.rtc_offset_ms = t * 1000 - _simctl.epoch_ms - _simctl.virt_ms
