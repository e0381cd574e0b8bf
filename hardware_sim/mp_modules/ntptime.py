"""Simulated `ntptime`: the host's virtual clock is already right."""

host = "pool.ntp.org"


def settime():
    pass
