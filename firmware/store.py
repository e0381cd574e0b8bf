"""Keeping the register: live state in RTC memory, commits and the reading ring in flash.

RTC memory survives a watchdog or soft reset but not a power loss; flash survives
both but wears out. So the live state (total, seq, acked, dropped) is written to RTC
memory on every change, and committed to flash whenever `commit_ml` litres have
accumulated since the last commit, and with every reading (the ring record itself).
After any reset the newest of RTC, commit file and ring is taken, by seq then total.
"""

import struct

from micropython import const

_MAGIC = b"WMr1"
_STATE_FMT = "<IIIIQ"  # boot, seq, acked, dropped, total_ml
_STATE_LEN = const(24)
_REC_FMT = "<IIIQ"  # seq, ts, boot, total_ml
REC_LEN = const(20)
COMMIT_FILE = "count.bin"
RING_FILE = "ring.bin"
CONFIG_FILE = "state.json"


def _crc(data):
    import binascii

    return binascii.crc32(data) & 0xFFFFFFFF


def pack_state(boot, seq, acked, dropped, total_ml):
    """RTC / commit record: magic, fields, CRC-32 (so power-on garbage is never trusted)."""
    body = _MAGIC + struct.pack(_STATE_FMT, boot, seq, acked, dropped, total_ml)
    return body + struct.pack("<I", _crc(body))


def unpack_state(data):
    """(boot, seq, acked, dropped, total_ml) or None when data is not a valid record."""
    n = 4 + _STATE_LEN
    if not data or len(data) < n + 4 or data[:4] != _MAGIC:
        return None
    if struct.unpack("<I", data[n:n + 4])[0] != _crc(data[:n]):
        return None
    return struct.unpack(_STATE_FMT, data[4:n])


def newest(*states):
    """The newest of several state tuples (None skipped): highest seq, then highest total."""
    best = None
    for s in states:
        if s is not None and (best is None or (s[1], s[4]) > (best[1], best[4])):
            best = s
    return best


class Flash:
    """Files in the board's flash filesystem (littlefs on the ESP32); whole-file writes are atomic."""

    def __init__(self, root=""):
        self.root = root
        self.writes = 0  # file writes, for the flash-wear figures

    def path(self, name):
        return self.root + name

    def read(self, name):
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError:  # missing
            return None

    def write(self, name, data):
        # Write a temp file and rename over the old one: a power cut leaves old or new, never half.
        import os

        tmp = self.path(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self.path(name))
        self.writes += 1

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


class Ring:
    """Readings in a fixed-size flash file, slot = seq % slots; a slot is valid when its seq matches."""

    def __init__(self, flash, slots):
        self.flash = flash
        self.slots = slots
        self._rec = bytearray(REC_LEN)
        path = flash.path(RING_FILE)
        size = slots * REC_LEN
        try:
            f = open(path, "r+b")
            f.seek(0, 2)
            if f.tell() != size:  # slot count changed: start over rather than misread
                f.close()
                raise OSError(2)
        except OSError:
            f = open(path, "w+b")
            zeros = bytes(REC_LEN * 64)
            left = size
            while left:
                n = min(left, len(zeros))
                f.write(zeros[:n])
                left -= n
            f.flush()
        self._f = f

    def put(self, seq, ts, boot, total_ml):
        struct.pack_into(_REC_FMT, self._rec, 0, seq, ts, boot, total_ml)
        self._f.seek((seq % self.slots) * REC_LEN)
        self._f.write(self._rec)
        self._f.flush()  # littlefs commits the file on flush
        self.flash.writes += 1

    def get(self, seq):
        """(seq, ts, boot, total_ml) for seq, or None when its slot holds something else."""
        self._f.seek((seq % self.slots) * REC_LEN)
        if self._f.readinto(self._rec) != REC_LEN:
            return None
        if not seq or struct.unpack_from("<I", self._rec)[0] != seq:
            return None
        return struct.unpack(_REC_FMT, self._rec)

    def last(self):
        """The record with the highest seq, or None when the ring is empty."""
        best = None
        chunk = bytearray(REC_LEN * 8)
        self._f.seek(0)
        while True:
            n = self._f.readinto(chunk)
            if not n:
                break
            for off in range(0, n - REC_LEN + 1, REC_LEN):
                rec = struct.unpack_from(_REC_FMT, chunk, off)
                if rec[0] and (best is None or rec[0] > best[0]):
                    best = rec
        return best

    def close(self):
        self._f.close()
