"""The board's flash for littlefs: 4 KiB erase blocks in a host file, every erase counted.

NOR flash semantics: programming can only clear bits (new = old AND data), an erase
sets a whole 4 KiB block to 0xFF and takes about 45 ms (page programs about 0.7 ms per
256 bytes); the CPU is stalled meanwhile (`_simctl.busy(.., "flash")`). The host may
ask for a power cut at the n-th program or erase from now: that operation is torn (a
random prefix of it lands) and the board stops there.
"""

import os
import struct
import sys

import _simctl

BLOCK = 4096
ERASE_US = 45000  # sector erase, typical, Winbond W25Q32 / GigaDevice GD25Q32 datasheets
PAGE_US = 700  # page program (256 B), typical
READ_US = 25  # one small SPI read, call overhead included

_FF = b"\xff" * 256
cut_after = -1  # power cut at this many more program/erase operations (-1: none)
debt_us = 0  # flash time not yet charged to virtual time
erases = 0
programs = 0


class FlashDev:
    def __init__(self, path, blocks):
        self.path = path
        self.blocks = blocks
        fresh = False
        try:
            size = os.stat(path)[6]
        except OSError:
            size = -1
        if size != blocks * BLOCK:
            with open(path, "wb") as f:
                chunk = b"\xff" * BLOCK
                for _ in range(blocks):
                    f.write(chunk)
            fresh = True
        self.fresh = fresh
        self._f = open(path, "r+b")
        # Erases per block, 4 bytes each, kept in a host file (not in this small heap).
        wear_path = path + ".wear"
        try:
            ok = os.stat(wear_path)[6] == 4 * blocks
        except OSError:
            ok = False
        if not ok:
            with open(wear_path, "wb") as f:
                for _ in range(blocks):
                    f.write(b"\0\0\0\0")
        self._wear = open(wear_path, "r+b")
        self._word = bytearray(4)

    def readblocks(self, block, buf, offset=0):
        global debt_us
        self._f.seek(block * BLOCK + offset)
        self._f.readinto(buf)
        debt_us += READ_US + len(buf) // 40

    def writeblocks(self, block, buf, offset=None):
        global debt_us, programs
        if offset is None:
            self._erase(block)
            offset = 0
        addr = block * BLOCK + offset
        n = len(buf)
        self._f.seek(addr)
        old = self._f.read(n)
        new = buf
        if not _erased(old):  # NOR flash: a program only clears bits
            new = bytearray(n)
            for i in range(n):
                new[i] = old[i] & buf[i]
        programs += 1
        torn = _cut()
        if torn:  # a random prefix of the page program lands
            new = bytes(new)[:_simctl.rand() % (n + 1)]
        self._f.seek(addr)
        self._f.write(new)
        if torn:
            _die()
        debt_us += PAGE_US * ((len(buf) + 255) // 256)
        if debt_us >= 20000:
            charge()

    def _erase(self, block):
        global erases, debt_us
        erases += 1
        self._wear.seek(4 * block)
        self._wear.readinto(self._word)
        struct.pack_into("<I", self._word, 0, struct.unpack("<I", self._word)[0] + 1)
        self._wear.seek(4 * block)
        self._wear.write(self._word)
        torn = _cut()
        self._f.seek(block * BLOCK)
        left = _simctl.rand() % BLOCK if torn else BLOCK  # an interrupted erase leaves the block partly erased
        while left:
            k = min(left, 256)
            self._f.write(_FF[:k] if k < 256 else _FF)
            left -= k
        if torn:
            _die()
        debt_us += ERASE_US
        charge()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return BLOCK
        if op == 6:  # erase
            self._erase(arg)
            return 0
        return 0


def _erased(data):
    n = len(data)
    for i in range(0, n, 256):
        k = min(256, n - i)
        if data[i:i + k] != _FF[:k]:
            return False
    return True


def _cut():
    global cut_after
    if cut_after <= 0:
        return False
    cut_after -= 1
    return cut_after == 0


def _die():
    # Power is gone in the middle of a flash operation: tell the host, which kills us.
    sys.stdout.write("@@x\n")
    sys.stdin.readline()
    raise SystemExit(9)


def charge():
    """Turn the flash time spent so far into virtual time (the CPU was stalled meanwhile)."""
    global debt_us
    if debt_us >= 1000 and not _simctl.busy_depth:
        ms = debt_us // 1000
        debt_us -= ms * 1000
        _simctl.busy(ms, "flash")
