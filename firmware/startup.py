"""Start-up: the counter first, then the configuration, then the meter; never the REPL.

main.py only imports this module: a board compiles main.py from source at every boot, in
RAM, while this module ships precompiled (.mpy).

Missing or bad configuration starts safe mode (portal.py). Any exception that escapes the
meter is printed, remembered in RTC memory for the next birth message, and the board
resets two seconds later; the watchdog covers hangs. Production builds disable Ctrl-C on
the serial console, so nobody falls into the REPL that way either.
"""

import gc
import sys


def _fatal(err):
    import machine
    import time

    sys.print_exception(err)
    try:  # the reason goes into RTC memory, for the next birth message
        import hal
        import store

        store.note_crash(hal.RtcMemory(), repr(err)[:80])
    except Exception:  # noqa: BLE001 - reporting must never stop the reset
        pass
    time.sleep_ms(2000)
    machine.reset()


def _boot(packet):
    try:
        import buildinfo

        if buildinfo.PRODUCTION:
            import micropython

            micropython.kbd_intr(-1)  # no Ctrl-C into the REPL on production boards
    except ImportError:  # development build
        pass
    import siteconf

    try:
        cfg = siteconf.load()
    except OSError:
        cfg, why = None, "no site_config.json"
    except (ValueError, KeyError, TypeError) as err:
        cfg, why = None, "site_config.json: %s" % err
    if cfg is not None and siteconf.factory_reset_held(cfg["factory_reset_pin"]):
        siteconf.factory_reset()
        cfg, why = None, "factory reset"
    if cfg is None:
        import portal

        portal.run(why)
    for name in ("siteconf", "creds"):  # done with: give their RAM back
        sys.modules.pop(name, None)
    # Count first: every second before this is water that is not counted.
    import counter

    battery = cfg["mode"] == "battery"
    # The ULP samples every 5 ms awake (mains), every 50 ms in battery mode: a tenth of the current,
    # and still 100 ms per level (debounce 2), so up to 5 pulses a second.
    ctr = counter.Counter(cfg["counter_pin"], cfg["sensor"], cfg["edge"], cfg["pull"], cfg["debounce_ms"],
                          cfg["counter"], ulp_period_ms=50 if battery else 5, ulp_debounce=2 if battery else 3)
    gc.collect()
    # The modules one at a time with a collection after each, so their load-time garbage
    # does not splinter the heap.
    for name in ("micropython", "struct", "json", "config", "hal", "store", "protocol", "mqtt_client",
                 "timesync", "app"):
        __import__(name)
        gc.collect()
    if battery:
        import battery

        battery.main(cfg, ctr, packet)
    else:
        import app

        app.main(cfg, ctr, packet)


def run(packet):
    """Boot the meter; any exception is the catch-all's: log, then reset within seconds."""
    try:
        _boot(packet)
    except Exception as err:  # noqa: BLE001 - the catch-all
        _fatal(err)
