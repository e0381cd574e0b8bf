"""What the esp32 port's frozen `_boot.py` and main loop do, for the simulated board.

Mounts littlefs (vfs.VfsLfs2) from the flash image at /flash and makes it the current
directory, formatting a blank image as the port does on first boot; on the very first
power-on copies in what the installer would have put there (`WM_SIM_PROVISION`, like
`mpremote cp`); then runs the firmware's boot.py and main.py. When main.py ends or
raises, the board sits at the REPL: the simulator reports that as `@@q` and stops.
"""

import os
import sys

import _flashdev
import _simctl
import vfs


def _mount():
    dev = _flashdev.FlashDev(os.getenv("WM_SIM_FLASH") or "flash.img", int(os.getenv("WM_SIM_FLASH_BLOCKS") or "512"))
    try:
        fs = vfs.VfsLfs2(dev)
    except OSError:  # blank or corrupt: the port formats it (and the data is gone)
        print("sim: formatting the flash filesystem")
        vfs.VfsLfs2.mkfs(dev)
        fs = vfs.VfsLfs2(dev)
    vfs.mount(fs, "/flash")
    os.chdir("/flash")
    return dev


def _provision(src):
    for name in os.listdir(src):
        with open(src + "/" + name, "rb") as f:
            data = f.read()
        with open(name, "wb") as f:
            f.write(data)


def _run(path):
    with open(path) as f:
        code = f.read()
    exec(code, {"__name__": "__main__", "__file__": path})


def _wake():
    """After a deep sleep: the ULP (if it was left running) counted the pulses of the sleep."""
    import esp32
    import machine

    esp32._load_slow()
    if esp32._ulp["running"] and _simctl.wake_span_ms:
        t1 = _simctl.virt_ms * 1000
        machine._replay_sleep(t1 - _simctl.wake_span_ms * 1000, t1, _simctl.wake_pulses)


def main():
    _wake()
    dev = _mount()
    src = os.getenv("WM_SIM_PROVISION") or ""
    if dev.fresh and src:
        _provision(src)
    fw = os.getenv("WM_SIM_FW_DIR") or ""
    try:
        for name in ("boot.py", "main.py"):
            try:
                os.stat(fw + "/" + name)
            except OSError:
                continue
            _run(fw + "/" + name)
    except SystemExit:
        raise
    except BaseException as err:  # what the REPL would print before its prompt
        sys.print_exception(err)
    _flashdev.charge()
    sys.stdout.write("@@q repl\n")
    # At the REPL the board does nothing more; a watchdog started earlier still resets it.
    import machine

    while machine._wdts:
        _simctl.sleep_ms(1000)


main()
