"""The simulated ESP32 is as unkind as the real one: small programs run on it and check each behaviour.

Each behaviour follows MicroPython's esp32 port (source, docs, issues), see docs/firmware.md
("What the simulator models"). These tests check the simulator, not the firmware.
"""

from __future__ import annotations

from hardware_sim.faults import Fault, outage
from tests.hardware_sim.conftest import run_script, script_lines

# A station that joins the simulated access point (a program's first lines).
JOIN = """
import network, time
w = network.WLAN(network.STA_IF)
w.active(True)
w.connect("sim", "sim")
while not w.isconnected():
    time.sleep_ms(100)
"""


def test_wlan_connect_while_connecting_raises_and_status_moves_in_virtual_time(tmp_path):
    script = """
import network, time
w = network.WLAN(network.STA_IF)
try:
    w.connect("sim", "sim")
except OSError as e:
    print("R inactive", e)
w.active(True)
print("R status", w.status())
w.connect("sim", "sim")
print("R status", w.status())
try:
    w.connect("sim", "sim")
except OSError as e:
    print("R again", e)
t0 = time.ticks_ms()
while not w.isconnected():
    time.sleep_ms(100)
print("R connected_after_ms", time.ticks_diff(time.ticks_ms(), t0), w.status())
w.disconnect()
print("R after_disconnect", w.status())
w.connect("sim", "wrong")
time.sleep_ms(5000)
print("R wrong_key", w.status(), w.isconnected())
w.disconnect()
w.connect("nosuch", "sim")
time.sleep_ms(5000)
print("R no_ap", w.status())
try:
    w.connect("nosuch", "sim")
except OSError as e:
    print("R retry_while_failing", e)
"""
    lines = script_lines(run_script(tmp_path, script, duration_s=60))
    assert lines[0] == "inactive Wifi Not Started"
    assert lines[1] == "status 1000" and lines[2] == "status 1001"
    assert lines[3] == "again Wifi Internal Error"  # MicroPython issue #17661
    ms, status = lines[4].split()[1:]
    assert 1000 <= int(ms) <= 3100 and status == "1010"
    assert lines[5] == "after_disconnect 1000"
    assert lines[6] == "wrong_key 202 False"
    assert lines[7] == "no_ap 201"
    assert lines[8] == "retry_while_failing Wifi Internal Error"


def test_access_point_outage_beacon_timeout_and_driver_reconnects_by_itself(tmp_path):
    script = (
        JOIN
        + """
print("R up")
seen = []
for i in range(60):
    time.sleep_ms(1000)
    s = (w.isconnected(), w.status())
    if not seen or seen[-1][1] != s:
        seen.append((i, s))
for i, s in seen:
    print("R", i, s[0], s[1])
"""
    )
    board = run_script(tmp_path, script, duration_s=80, faults=outage(10, 20))
    lines = script_lines(board)
    assert lines[0] == "up"
    events = [tuple(line.split()) for line in lines[1:]]
    # still "connected" for the 6 s beacon timeout, then no AP found while the driver retries,
    # then connected again without any connect() call.
    down = [e for e in events if e[1] == "False"]
    assert [e[2] for e in down] == ["1001", "201"], events  # beacon timeout: connecting; then no AP
    assert 10 <= int(down[0][0]) <= 14, events  # AP gone at 10 s virtual, loop started at ~4 s
    assert events[-1][1:] == ("True", "1010") and int(events[-1][0]) >= 28, events


def test_pin_irq_is_soft_late_and_sees_the_level_when_it_runs(tmp_path):
    script = """
import machine, time, _simctl
p = machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)
try:
    p.irq(handler=lambda x: None, trigger=machine.Pin.IRQ_FALLING, hard=True)
except TypeError:
    print("R no_hard")
win = [0]
seen = []
def h(pin):
    seen.append((win[0], time.ticks_us(), pin.value()))
p.irq(handler=h, trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)
for i in range(30):
    time.sleep_ms(1000)
for w, t, v in seen:
    print("R idle", w, t, v)
seen.clear()
for i in range(1, 7):
    win[0] = i
    _simctl.busy(10000, "dns")  # blocked in a look-up: callbacks wait, the queue holds 8
for w, t, v in seen:
    print("R busy", w, t, v)
print("R dropped", machine.dropped_callbacks)
"""
    # 1 L/pulse at 600 L/h: a pulse every 6 s, each edge with contact bounce.
    board = run_script(tmp_path, script, duration_s=100, flow_lph=600)
    lines = script_lines(board)
    assert lines[0] == "no_hard"
    idle = [tuple(int(x) for x in ln.split()[1:]) for ln in lines if ln.startswith("idle")]
    busy = [tuple(int(x) for x in ln.split()[1:]) for ln in lines if ln.startswith("busy")]
    assert len(idle) >= 4 * 6, "each pulse gives two edges plus bounce edges"
    assert {v for _w, _t, v in idle} == {0, 1}, "while idle, handlers run soon after each edge"
    for w in range(1, 7):
        calls = [(t, v) for ww, t, v in busy if ww == w]
        assert len(calls) <= 8, "the schedule queue holds 8 callbacks"
        assert len({v for _t, v in calls}) <= 1, "after a stall every handler sees the level at run time"
    assert int(lines[-1].split()[1]) > 0, "edges beyond the queue are dropped"


def test_flash_stall_holds_the_gpio_interrupt_and_edges_collapse(tmp_path):
    script = """
import machine, time, _simctl
p = machine.Pin(4, machine.Pin.IN)
calls = []
p.irq(handler=lambda pin: calls.append(pin.value()), trigger=machine.Pin.IRQ_FALLING)
for i in range(10):
    _simctl.busy(3000, "flash")
print("R flash_calls", len(calls))
"""
    board = run_script(tmp_path, script, duration_s=40, flow_lph=3600)  # a pulse a second
    n = int(script_lines(board)[0].split()[1])
    assert 1 <= n <= 10, "at most one held interrupt per flash operation"


def test_pulse_counter_exists_from_micropython_126_only_and_ignores_stalls(tmp_path):
    script = """
import machine, _simctl
try:
    c = machine.Counter(0, machine.Pin(4), edge=machine.Counter.FALLING, filter_ns=12800)
except AttributeError:
    print("R no_counter")
    raise SystemExit
for i in range(30):
    _simctl.busy(1000, "tls")
print("R count", c.value())
"""
    old = run_script(tmp_path / "old", script, duration_s=40, flow_lph=0, mp_version="1.25")
    assert script_lines(old) == ["no_counter"]
    new = run_script(tmp_path / "new", script, duration_s=40, flow_lph=360, sensor="hall")
    assert script_lines(new) == [f"count {new.pulses.pulses}"]


def test_brownout_reads_as_power_on_and_only_the_reset_register_tells(tmp_path):
    script = """
import machine, time
print("R cause", machine.reset_cause(), machine.mem32[0x3FF48034] & 0x3F)
time.sleep_ms(30000)
"""
    board = run_script(tmp_path, script, duration_s=40, faults=[Fault(10, "brownout")])
    assert script_lines(board) == ["cause 1 1", "cause 1 15"]


def test_ntp_bogus_answer_is_2036_and_a_short_one_raises_value_error(tmp_path):
    script = (
        JOIN
        + """
import ntptime
for i in range(3):
    try:
        print("R ntp", ntptime.time())
    except Exception as e:
        print("R err", type(e).__name__)
    time.sleep_ms(10000)
"""
    )
    board = run_script(
        tmp_path,
        script,
        duration_s=40,
        faults=[Fault(0, "ntp_bogus"), Fault(8, "ntp_short"), Fault(18, "ntp_up")],
    )
    lines = script_lines(board)
    assert lines[0] == "ntp 2085978496"  # 2036-02-07T06:28:16Z
    assert lines[1] == "err ValueError"
    assert lines[2].startswith("ntp 1750000")


def test_littlefs_on_4k_flash_counts_erases_rewrite_costs_more_than_small_files(tmp_path):
    script = """
import _flashdev
e0 = _flashdev.erases
f = open("big.bin", "wb")
f.write(bytes(40000))
f.close()
e1 = _flashdev.erases
f = open("big.bin", "r+b")
for i in range(20):
    f.seek(1000 + i * 20)
    f.write(b"x" * 20)
    f.flush()
f.close()
e2 = _flashdev.erases
for i in range(20):
    with open("small", "wb") as f:
        f.write(b"%20d" % i)
print("R", (e2 - e1) / 20, (_flashdev.erases - e2) / 20)
"""
    board = run_script(tmp_path, script, duration_s=120)
    in_place, small = (float(x) for x in script_lines(board)[0].split())
    assert in_place >= 5, "rewriting a 40 KB file in place copies its later blocks"
    assert small <= 0.2, "a small file lives inline in littlefs's metadata log"
    assert sum(board.flash_wear()) > 0


def test_ssl_socket_has_no_settimeout(tmp_path):
    script = """
import ssl, socket
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
print("R", hasattr(ctx, "wrap_socket"), "settimeout" in dir(socket.socket))
import tls
print("R", [n for n in dir(tls) if n.startswith("CERT")])
"""
    board = run_script(tmp_path, script, duration_s=5)
    assert script_lines(board)[0] == "True True"
