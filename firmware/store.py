"""Keeping the register and the unsent readings: RTC memory first, flash only when it must.

RTC memory survives a watchdog reset, a soft reset and deep sleep, but not a power loss;
flash survives everything but wears out: littlefs on a 4 KiB-erase NOR flash erases a
block for almost every small write that creates something new. So:

- The live state (boot, seq, acked, dropped, total) and the readings not yet acknowledged
  live in RTC memory (`Rtc`), rewritten on every change; no flash write at all while the
  broker acknowledges each reading within the minute.
- Readings still unacknowledged are appended to flash 16 at a time, as one segment file
  `log/<first seq>` (an append-only log of segments; a segment is deleted once the broker
  has all of it): one erase per 16 readings during an outage.
- The commit record `st` (state + a seq lease) is written when `commit_l` litres have
  accumulated and when seq passes its lease (every 16 readings), never at boot: a
  brown-out loop does not touch flash, and after a power loss seq restarts above the lease,
  so a published seq is never reused.

A power loss loses what RTC memory held: less than commit_l litres of the register (plus
pulses not yet taken from the counter) and, during an outage, the minute readings not yet
spilled (at most 15; their litres are in the next reading).
"""

import struct

from micropython import const

_MAGIC = b"WMr3"
_STATE_FMT = "<IIIIQII"  # boot, seq, acked, dropped, total_ml, last_ts, seq lease
_STATE_LEN = const(32)
_REC_FMT = "<IIIQ"  # seq, ts, boot, total_ml
REC_LEN = const(20)
SEG = const(16)  # readings per flash segment
RTC_RECS = const(90)  # readings RTC memory holds (battery mode: an hour of minutes and then some)
_RTC_HEAD = const(40)  # state record
_RTC_N = const(40)  # then: count of readings (2 bytes), flags (2 bytes), then the readings
_RTC_FLAGS = const(42)
_RTC_NEXT = const(44)  # battery mode: unix time of the next upload (4 bytes)
_RTC_RECS_AT = const(48)
FLAG_SYNCED = const(1)  # the RTC's wall clock was set from a checked NTP answer
_RTC_ERR_AT = const(_RTC_RECS_AT + RTC_RECS * REC_LEN)  # then an error note from the last crash
RTC_BYTES = const(_RTC_ERR_AT + 84)
LEASE = const(16)
COMMIT_FILE = "st"
CONFIG_FILE = "cfg.json"


def _crc(data):
    import binascii

    return binascii.crc32(data) & 0xFFFFFFFF


def pack_state(boot, seq, acked, dropped, total_ml, last_ts, lease):
    """State record: magic, fields, CRC-32 (so power-on garbage or a torn write is never trusted)."""
    body = _MAGIC + struct.pack(_STATE_FMT, boot, seq, acked, dropped, total_ml, last_ts, lease)
    return body + struct.pack("<I", _crc(body))


def unpack_state(data):
    """(boot, seq, acked, dropped, total_ml, last_ts, lease) or None when data is not a valid record."""
    n = 4 + _STATE_LEN
    if not data or len(data) < n + 4 or data[:4] != _MAGIC:
        return None
    if struct.unpack("<I", data[n:n + 4])[0] != _crc(data[:n]):
        return None
    return struct.unpack(_STATE_FMT, data[4:n])


class Flash:
    """Small files in the board's flash filesystem (littlefs on the ESP32)."""

    def __init__(self, root=""):
        self.root = root
        self.writes = 0  # file writes since boot (status field flash_writes)

    def path(self, name):
        return self.root + name

    def read(self, name):
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError:  # missing
            return None

    def write(self, name, data):
        # One file write: littlefs keeps the old contents until the new ones have landed.
        with open(self.path(name), "wb") as f:
            f.write(data)
        self.writes += 1

    def remove(self, name):
        import os

        try:
            os.remove(self.path(name))
        except OSError:  # already gone
            pass

    def listdir(self, name):
        import os

        try:
            return os.listdir(self.path(name))
        except OSError:  # no such directory yet
            return []

    def mkdir(self, name):
        import os

        try:
            os.mkdir(self.path(name))
        except OSError:  # exists
            pass

    def load_json(self, name, default=None):
        import json

        data = self.read(name)
        try:
            return json.loads(data) if data else default
        except ValueError:
            return default

    def save_json(self, name, doc):
        import json

        self.write(name, json.dumps(doc))


class Rtc:
    """The RTC-memory image: state, unsent readings, and a note from the last crash; one buffer, written whole."""

    def __init__(self, mem):
        self.mem = mem  # hal.RtcMemory (or a test double): read() -> bytes, write(bytes)
        self.buf = bytearray(RTC_BYTES)
        raw = mem.read()
        n = min(len(raw), RTC_BYTES)
        self.buf[:n] = raw[:n]
        self.state = unpack_state(bytes(self.buf[:_RTC_HEAD]))
        count, flags = struct.unpack_from("<HH", self.buf, _RTC_N) if self.state else (0, 0)
        self.count = count if count <= RTC_RECS else 0
        self.flags = flags
        self.next_upload_s = struct.unpack_from("<I", self.buf, _RTC_NEXT)[0] if self.state else 0
        note = bytes(self.buf[_RTC_ERR_AT:_RTC_ERR_AT + 84])
        self.note = note[3:].split(b"\0")[0].decode() if note[:3] == b"\nE " else None

    def rec(self, i):
        return struct.unpack_from(_REC_FMT, self.buf, _RTC_RECS_AT + i * REC_LEN)

    def find(self, seq):
        for i in range(self.count):
            rec = self.rec(i)
            if rec[0] == seq:
                return rec
        return None

    def replace(self, i, rec):
        struct.pack_into(_REC_FMT, self.buf, _RTC_RECS_AT + i * REC_LEN, *rec)

    def append(self, seq, ts, boot, total_ml):
        if self.count >= RTC_RECS:
            return False
        struct.pack_into(_REC_FMT, self.buf, _RTC_RECS_AT + self.count * REC_LEN, seq, ts, boot, total_ml)
        self.count += 1
        return True

    def drop_through(self, seq):
        """Forget the readings with seq <= the given one (acknowledged or spilled to flash)."""
        keep = 0
        for i in range(self.count):
            rec = self.rec(i)
            if rec[0] > seq:
                struct.pack_into(_REC_FMT, self.buf, _RTC_RECS_AT + keep * REC_LEN, *rec)
                keep += 1
        self.count = keep

    def save(self, state_record):
        self.buf[:_RTC_HEAD] = state_record
        struct.pack_into("<HHI", self.buf, _RTC_N, self.count, self.flags, self.next_upload_s)
        self.buf[_RTC_ERR_AT:_RTC_ERR_AT + 3] = b"\0\0\0"  # the note has been read by now
        self.mem.write(self.buf)


def note_crash(mem, text):
    """Leave a short reason in RTC memory for the next birth message (called by the catch-all)."""
    buf = bytearray(RTC_BYTES)
    raw = mem.read()
    n = min(len(raw), RTC_BYTES)
    buf[:n] = raw[:n]
    msg = (b"\nE " + text.encode())[:83]
    buf[_RTC_ERR_AT:_RTC_ERR_AT + len(msg)] = msg
    if len(msg) < 84:
        buf[_RTC_ERR_AT + len(msg)] = 0
    mem.write(buf)


class Log:
    """Readings the broker has not acknowledged, in flash: segments of 16, appended whole, deleted when sent."""

    def __init__(self, flash, max_readings):
        self.flash = flash
        self.max_segments = max(2, max_readings // SEG)
        flash.mkdir("log")
        self.firsts = sorted(int(n) for n in flash.listdir("log") if n.isdigit())
        self._cache = (0, None)  # (first seq, data) of the segment read last

    @staticmethod
    def first_of(seq):
        return ((seq - 1) // SEG) * SEG + 1

    def append(self, first, recs):
        """Write the segment starting at `first` (aligned): SEG records (seq, ts, boot, total_ml), seq 0 = none."""
        buf = bytearray(SEG * REC_LEN + 4)
        for i, rec in enumerate(recs):
            struct.pack_into(_REC_FMT, buf, i * REC_LEN, *rec)
        struct.pack_into("<I", buf, SEG * REC_LEN, _crc(memoryview(buf)[:SEG * REC_LEN]))
        self.flash.write("log/%d" % first, buf)
        self._cache = (0, None)
        if first not in self.firsts:
            self.firsts.append(first)
            self.firsts.sort()
        dropped = 0
        while len(self.firsts) > self.max_segments:  # full: the oldest unsent readings go
            self.flash.remove("log/%d" % self.firsts.pop(0))
            dropped += SEG
        return dropped

    def get(self, seq):
        """(seq, ts, boot, total_ml) from flash, or None (not stored, or a torn segment)."""
        first = self.first_of(seq)
        if first not in self.firsts:
            return None
        if self._cache[0] != first:
            data = self.flash.read("log/%d" % first)
            if not data or len(data) != SEG * REC_LEN + 4 or \
                    struct.unpack_from("<I", data, SEG * REC_LEN)[0] != _crc(data[:SEG * REC_LEN]):
                data = None
            self._cache = (first, data)
        data = self._cache[1]
        if data is None:
            return None
        rec = struct.unpack_from(_REC_FMT, data, (seq - first) * REC_LEN)
        return rec if rec[0] == seq else None

    def segment(self, first):
        """The SEG records of the segment starting at first ((0, 0, 0, 0) where none)."""
        return [self.get(s) or (0, 0, 0, 0) for s in range(first, first + SEG)]

    def last(self):
        """The newest reading in flash, or None."""
        for first in reversed(self.firsts):
            rec = self.get(first + SEG - 1)
            if rec is not None:
                return rec
        return None

    def release(self, acked):
        """Delete the segments the broker has all of."""
        while self.firsts and self.firsts[0] + SEG - 1 <= acked:
            self.flash.remove("log/%d" % self.firsts.pop(0))
