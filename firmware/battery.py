"""Battery mode: deep sleep between uploads; the ULP counts pulses and keeps minute totals meanwhile.

Each wake (the RTC timer, every `upload_min` minutes, at most 60 so no minute slot is
overwritten): the minute slots the ULP filled become readings (in RTC memory, or flash
if RTC memory fills up); on an upload wake Wi-Fi comes up, NTP is checked, every stored
reading goes out in batches of 60 and each leaves only after its PUBACK, then the radio
goes off and the chip sleeps until the next wake. Without a clock (never synced since
the last power loss) the minute slots cannot be dated: their totals go into the next
reading instead (no litre is lost, only minute resolution until the first NTP answer).
"""

import gc

import app
import hal
import store
from micropython import const

_RADIO_WAIT_MS = const(20000)  # an upload gives up on Wi-Fi after this long and tries next time
_MAX_SLEEP_MIN = const(60)  # 64 minute slots in the ULP ring: wake before they wrap


def _ms_to_next_minute(meter):
    now_ms = meter.clock.mono_ms() + meter.time.offset_ms
    return 60000 - now_ms % 60000, now_ms // 60000 * 60 + 60


def harvest(meter, ulp):
    """Readings from the minute slots the ULP wrote since the last wake."""
    slots = ulp.minutes()
    if not slots:
        return 0
    base = meter.total_ml
    taken = ulp.last()
    n = 0
    for ts, count in slots:
        if not meter.time.synced() or ts <= meter.last_ts:
            continue  # an undated slot: its pulses are in the next reading's total
        total = base + ((count - taken) % 65536) * meter.ml_per_pulse
        meter.seq += 1
        meter._store_reading(meter.seq, ts, meter.boot, total)
        n += 1
    meter.count()  # everything up to now, the last slot included
    meter._save_rtc()
    return n


def upload(meter):
    """Radio on, clock checked, everything sent; radio off. True when nothing is left unsent."""
    t0 = meter.clock.mono_ms()
    while not meter.wifi.ensure():
        if meter.clock.mono_ms() - t0 > _RADIO_WAIT_MS:
            print("battery: no Wi-Fi, readings stay for the next wake")
            meter.wifi.off()
            return False
        meter._feed()
        meter.clock.sleep_ms(100)
    for _ in range(3):  # the first answer after a power loss needs a second one to agree
        if meter.sync_time() or meter.time.synced():
            break
        meter.clock.sleep_ms(10000)
    if meter.time.synced():
        now = meter.unix_s()
        meter.take_reading(now - now % meter.interval_s)  # the register now, on the minute
    meter.flush()
    if meter.mqtt is not None:
        meter._publish_status()
        try:
            meter.mqtt.disconnect()
        except OSError:  # gone already
            pass
        meter.mqtt = None
    meter.wifi.off()
    return meter.acked >= meter.seq


def main(cfg, counter, packet=None):
    """One wake of a battery meter: harvest, maybe upload, then deep sleep until the next wake."""
    import machine

    if counter.mode != "ulp":
        # Nothing else counts while the chip sleeps: stay awake rather than lose water.
        print("battery: no ULP counter (%s); running awake" % counter.fallback)
        app.main(cfg, counter, packet)
        return
    clock = hal.Clock()
    wdt = hal.Watchdog(cfg["wdt_s"])
    upload_s = min(cfg["upload_min"], _MAX_SLEEP_MIN) * 60
    meter = app.Meter(cfg, clock, counter, hal.WiFi(cfg["wifi_ssid"], cfg["wifi_password"], clock),
                      store.Flash(), hal.RtcMemory(), hal.reset_cause(), wdt, packet, rtc_gap_s=upload_s + 600)
    gc.collect()
    ulp = counter._ulp
    harvest(meter, ulp)
    now = meter.unix_s()
    due = now is None or now >= meter.next_upload_s or meter.reset_cause != "deepsleep"
    if due:
        upload(meter)
        now = meter.unix_s()
        if now is not None:
            meter.next_upload_s = (now // upload_s + 1) * upload_s
    if meter.time.synced():
        ms, first_ts = _ms_to_next_minute(meter)
        period_ms = counter._ulp_period_ms
        per_slot = 60000 // period_ms
        ulp.start_minutes(per_slot, max(1, ms // period_ms), first_ts)
        sleep_ms = (meter.next_upload_s - meter.unix_s()) * 1000
    else:
        sleep_ms = upload_s * 1000  # no clock: try again after one upload interval
    sleep_ms = max(10000, min(sleep_ms, _MAX_SLEEP_MIN * 60000))
    meter.save_sleep()
    print("battery: sleeping %d s" % (sleep_ms // 1000))
    machine.deepsleep(sleep_ms)
