"""Simulated `esp32`: NVS in a host file (its own partition on a board), the ULP's RTC slow memory.

NVS is not in the littlefs partition on a board, so it survives a filesystem format;
here it is `WM_SIM_NVS` (JSON), written on `commit()` only, as the real NVS.
"""

import json
import os

import _simctl

_NVS_PATH = os.getenv("WM_SIM_NVS") or "nvs.json"
_ESP_ERR_NVS_NOT_FOUND = -4354


def _load_all():
    try:
        with open(_NVS_PATH) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class NVS:
    def __init__(self, namespace):
        self._ns = namespace
        self._data = dict(_load_all().get(namespace, {}))

    def set_i32(self, key, value):
        self._data[key] = ["i", int(value)]

    def get_i32(self, key):
        v = self._data.get(key)
        if v is None or v[0] != "i":
            raise OSError(_ESP_ERR_NVS_NOT_FOUND)
        return v[1]

    def set_blob(self, key, value):
        if isinstance(value, str):
            value = value.encode()
        self._data[key] = ["b", list(bytes(value))]

    def get_blob(self, key, buf):
        v = self._data.get(key)
        if v is None or v[0] != "b":
            raise OSError(_ESP_ERR_NVS_NOT_FOUND)
        data = v[1]
        if len(buf) < len(data):
            raise OSError(-4364)  # ESP_ERR_NVS_INVALID_LENGTH
        for i, b in enumerate(data):
            buf[i] = b
        return len(data)

    def erase_key(self, key):
        if key not in self._data:
            raise OSError(_ESP_ERR_NVS_NOT_FOUND)
        del self._data[key]

    def commit(self):
        all_ns = _load_all()
        all_ns[self._ns] = self._data
        tmp = _NVS_PATH + ".tmp"
        with open(tmp, "w") as f:
            json.dump(all_ns, f)
        os.rename(tmp, _NVS_PATH)


# -- RTC slow memory (8 KiB at 0x50000000), shared by the ULP and the main CPU ------------------
# Kept (in a host file) through deep sleep; a power loss or another reset takes it.
_SLOW_PATH = os.getenv("WM_SIM_RTC_SLOW") or ""
_slow = {}  # byte offset -> 32-bit word
_ulp = {"running": False, "pc0": 0, "period_us": 5000, "next_us": 0, "runs": 0, "instr": 0}


def _rtc_slow_word(offset):
    return _slow.get(offset & ~3, 0)


def _rtc_slow_set(offset, value):
    _slow[offset & ~3] = value & 0xFFFFFFFF


def _save_slow():
    """Before deep sleep: RTC slow memory and the ULP's state go to the host file (line by line:
    this heap is small)."""
    if not _SLOW_PATH:
        return
    with open(_SLOW_PATH, "w") as f:
        f.write("%d %d %d %d %d %d\n" % (1 if _ulp["running"] else 0, _ulp["pc0"], _ulp["period_us"],
                                        _ulp["next_us"], _ulp["runs"], _ulp["instr"]))
        for k, v in _slow.items():
            f.write("%d %d\n" % (k, v))


def _load_slow():
    import machine

    if not _SLOW_PATH or machine.reset_cause() != machine.DEEPSLEEP_RESET:
        return
    try:
        with open(_SLOW_PATH) as f:
            head = f.readline().split()
            for line in f:
                k, v = line.split()
                _slow[int(k)] = int(v)
    except (OSError, ValueError):
        return
    if len(head) == 6:
        _ulp["running"] = head[0] == "1"
        _ulp["pc0"], _ulp["period_us"], _ulp["next_us"], _ulp["runs"], _ulp["instr"] = (int(x) for x in head[1:])


class ULP:
    """The ULP FSM co-processor: runs the loaded program every period, on the RTC timer.

    The simulator executes the real assembled program (ALU, LD/ST, JUMP/JUMPR, REG_RD of
    RTC_GPIO_IN, HALT), sampling the meter line at each run: its debounce and its sampling
    limits are the program's own. REG_WR (pad set-up) is accepted and has no effect here.
    """

    def set_wakeup_period(self, period_index, period_us):
        if period_index == 0:
            _ulp["period_us"] = int(period_us)

    def load_binary(self, load_addr, program_binary):
        import struct

        magic, text_off, text_size, data_size, bss_size = struct.unpack_from("<IHHHH", program_binary)
        if magic != 0x00706C75:
            raise ValueError("not a ULP binary")
        body = program_binary[text_off:text_off + text_size + data_size]
        for i in range(0, len(body), 4):
            _rtc_slow_set(4 * load_addr + i, struct.unpack_from("<I", body, i)[0])
        for i in range(bss_size // 4):
            _rtc_slow_set(4 * load_addr + len(body) + 4 * i, 0)

    def run(self, entry_point):
        _ulp["running"] = True
        _ulp["pc0"] = entry_point // 4
        _ulp["next_us"] = _simctl.now_us()


_REG_BASES = (0x3FF48000, 0x3FF48400, 0x3FF48800, 0x3FF48C00)  # RTC_CNTL, RTC_IO, SENS, RTC_I2C
_RTC_GPIO_IN = 0x3FF48424


def _exec(level):
    """One run of the ULP program with the meter line at `level`; the words it changed (addr, old, new)."""
    r = [0, 0, 0, 0]
    changed = []
    zero = False
    ovf = False
    pc = _ulp["pc0"]
    n = 0
    while n < 1000:
        w = _rtc_slow_word(4 * pc)
        n += 1
        op = w >> 28
        pc += 1
        if op == 11:  # HALT
            break
        if op == 7:  # ALU
            sub = (w >> 25) & 7
            sel = (w >> 21) & 15
            d = w & 3
            if sub == 2:  # stage counter: not used by our program
                continue
            a = r[(w >> 2) & 3]
            b = (w >> 4) & 0xFFFF if sub == 1 else r[(w >> 4) & 3]
            if sel == 0:
                v = a + b
                ovf = v > 0xFFFF
            elif sel == 1:
                v = a - b
                ovf = v < 0
            elif sel == 2:
                v = a & b
            elif sel == 3:
                v = a | b
            elif sel == 4:
                v = b if sub == 1 else a
            elif sel == 5:
                v = a << (b & 15)
            else:
                v = a >> (b & 15)
            v &= 0xFFFF
            zero = v == 0
            r[d] = v
        elif op == 13:  # LD
            r[w & 3] = _rtc_slow_word(4 * (r[(w >> 2) & 3] + ((w >> 10) & 0x7FF))) & 0xFFFF
        elif op == 6:  # ST: the low half gets the register
            addr = 4 * (r[(w >> 2) & 3] + ((w >> 10) & 0x7FF))
            old = _rtc_slow_word(addr)
            new = (old & 0xFFFF0000) | r[w & 3]
            if new != old:
                changed.append((addr, old, new))
                _rtc_slow_set(addr, new)
        elif op == 2:  # REG_RD
            reg = _REG_BASES[(w >> 8) & 3] + 4 * (w & 0xFF)
            lo = (w >> 18) & 31
            hi = (w >> 23) & 31
            value = (level << 24) if reg == _RTC_GPIO_IN else 0
            r[0] = (value >> lo) & ((1 << (hi - lo + 1)) - 1)
        elif op == 8:  # BRANCH
            sub = (w >> 25) & 7
            if sub == 0:  # JUMP (absolute), maybe on a flag
                kind = (w >> 22) & 7
                target = r[w & 3] if (w >> 21) & 1 else (w >> 2) & 0x7FF
                if kind == 0 or (kind == 1 and zero) or (kind == 2 and ovf):
                    pc = target
            elif sub == 1:  # JUMPR: relative, on R0 against an immediate
                imm = w & 0xFFFF
                off = (w >> 17) & 0x7F
                take = r[0] < imm if not (w >> 16) & 1 else r[0] >= imm
                if take:
                    pc = pc - 1 + (-off if (w >> 24) & 1 else off)
        # REG_WR (1), WAIT (4), END/WAKE (9): no effect on counting here
    _ulp["runs"] += 1
    _ulp["instr"] += n
    return changed


def _ulp_until(t_us, level):
    """Run the ULP at its period up to t_us with the line at `level`.

    Runs that change nothing are skipped (the next ones, with the same level, change nothing
    either). Runs that only add 1 to one word (a tick counter) are fast-forwarded as far as
    a probe run still does only that: the program's other paths depend on that word
    monotonically (true of ulp_counter.S), so the first run that does more comes on time.
    """
    if not _ulp["running"]:
        return
    period = _ulp["period_us"]
    while _ulp["next_us"] < t_us:
        changed = _exec(level)
        _ulp["next_us"] += period
        left = (t_us - _ulp["next_us"]) // period
        if left <= 0:
            continue
        if not changed:
            _ulp["next_us"] += left * period
            _ulp["runs"] += left
            _ulp["instr"] += left * 12
        elif left > 4 and len(changed) == 1 and changed[0][2] == changed[0][1] + 1:
            k = _tick_ahead(changed[0][0], level, left)
            if k:
                _rtc_slow_set(changed[0][0], _rtc_slow_word(changed[0][0]) + k)
                _ulp["next_us"] += k * period
                _ulp["runs"] += k
                _ulp["instr"] += k * 20


def _tick_ahead(addr, level, left):
    """How many runs (<= left) may be skipped by adding their +1s to the word at addr at once."""
    runs, instr = _ulp["runs"], _ulp["instr"]
    base = _rtc_slow_word(addr)
    lo, hi = 0, left
    while lo < hi:
        mid = (lo + hi + 1) // 2
        _rtc_slow_set(addr, base + mid)
        ch = _exec(level)
        ok = len(ch) == 1 and ch[0][0] == addr and ch[0][2] == ch[0][1] + 1
        for a, old, _new in reversed(ch):  # undo the probe (no copy of the memory: this heap is small)
            _rtc_slow_set(a, old)
        _rtc_slow_set(addr, base)
        if ok:
            lo = mid
        else:
            hi = mid - 1
    _ulp["runs"], _ulp["instr"] = runs, instr
    return lo


def ulp_duty():
    """Share of time the ULP is awake: 10 us start-up + 0.75 us per instruction (8 MHz, ~6 cycles)."""
    if not _ulp["runs"]:
        return 0.0
    per_run_us = 10 + 0.75 * _ulp["instr"] / _ulp["runs"]
    return per_run_us / _ulp["period_us"]


def raw_temperature():
    return 120 + _simctl.rand() % 5
