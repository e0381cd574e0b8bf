"""Wall-clock time from NTP answers that are checked before they are believed.

The board never trusts its RTC: time is monotonic milliseconds since boot plus an
offset. The first offset needs two answers that agree (within 2 s, allowing for the
time between them), inside a plausible range, not earlier than the last reading this
meter ever stored, and not the 2036-02-07 that a server answering zero turns into.
Later answers: a correction under 1 s is ignored, up to 60 s applied, larger steps
only when a second answer a minute later agrees.
"""

from micropython import const

_MIN_UNIX_S = const(1704067200)  # 2024-01-01: older answers are wrong (this firmware is newer)
_MAX_UNIX_S = const(4102444800)  # 2100-01-01
_ZERO_NTP_S = const(2085978496)  # NTP transmit timestamp 0 after ntptime's era arithmetic
_AGREE_MS = const(2000)
_STEP_MAX_MS = const(60000)
_RETRY_MS = const(60000)
_CONFIRM_MS = const(10000)


class TimeSync:
    """unix_s() from mono_ms() once NTP has given a checked answer."""

    def __init__(self, clock, host, resync_s, not_before_s=0):
        self.clock = clock
        self.host = host
        self.resync_ms = resync_s * 1000
        self.not_before_s = not_before_s  # the newest reading's time: the clock never goes back past it
        self.offset_ms = None  # unix ms minus mono ms
        self.next_ms = 0
        self._candidate = None  # (offset_ms) waiting for a second answer
        self.rejected = 0
        self.confirmed = False  # an answer agreed with the clock we have (set the RTC again)

    def seed(self, unix_s):
        """Start from the RTC's wall clock (kept through a reset); NTP checks it within a minute."""
        if not self._plausible(unix_s):
            return False
        mono = self.clock.mono_ms()
        self.offset_ms = unix_s * 1000 - mono
        self.next_ms = mono + _RETRY_MS
        print("time: kept from the RTC: %d" % unix_s)
        return True

    def synced(self):
        return self.offset_ms is not None

    def unix_s(self, mono_ms=None):
        """Unix seconds now (or at mono_ms), or None before the first accepted answer."""
        if self.offset_ms is None:
            return None
        if mono_ms is None:
            mono_ms = self.clock.mono_ms()
        return (mono_ms + self.offset_ms) // 1000

    def _plausible(self, unix_s):
        return (_MIN_UNIX_S <= unix_s < _MAX_UNIX_S and unix_s != _ZERO_NTP_S
                and unix_s + 1 >= self.not_before_s)

    def poll(self):
        """Ask NTP when due; True when the offset changed (first sync or a step)."""
        mono = self.clock.mono_ms()
        if mono < self.next_ms:
            return False
        answer = self.clock.ntp_unix_s(self.host)
        mono = self.clock.mono_ms()
        if answer is None:
            self.next_ms = mono + _RETRY_MS
            return False
        if not self._plausible(answer):
            self.rejected += 1
            print("time: NTP answer %d refused (implausible)" % answer)
            self.next_ms = mono + _RETRY_MS
            return False
        offset = answer * 1000 - mono
        old = self.offset_ms
        if old is not None:
            step = offset - old
            self.next_ms = mono + self.resync_ms
            if -1000 < step < 1000:
                self._candidate = None
                self.confirmed = True
                return False  # NTP has whole seconds: keep the finer offset we have
            if -_STEP_MAX_MS <= step <= _STEP_MAX_MS:
                self._candidate = None
                self.offset_ms = offset
                print("time: corrected by %d ms" % step)
                return True
        cand = self._candidate
        if cand is None or not -_AGREE_MS < offset - cand < _AGREE_MS:
            self._candidate = offset
            self.next_ms = mono + (_CONFIRM_MS if old is None else _RETRY_MS)
            print("time: NTP answer %d waits for a second one" % answer)
            return False
        self._candidate = None
        self.offset_ms = offset
        self.next_ms = mono + self.resync_ms
        print("time: %s %d" % ("set to" if old is None else "stepped to", answer))
        return True

    def accepted(self):
        """Unix seconds of the offset now (to set the RTC after an accepted answer)."""
        return self.unix_s()
