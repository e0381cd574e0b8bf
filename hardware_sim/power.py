"""Energy of a simulated ESP32 board: time in each power state, and the current it draws there.

The currents are datasheet orders of magnitude (sources in docs/firmware.md); the times
are what the simulated board actually spent, measured in virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# mA in each state. ESP32 datasheet v4 (Espressif), section "Power consumption by power modes":
# modem-sleep 160 MHz 27-44 mA; RF receive 95-100 mA, transmit 802.11n 180-240 mA (short bursts);
# deep sleep with RTC timer + RTC memory 10 uA; ULP co-processor in its sensor-monitored pattern
# 100 uA at 1 % duty. Board: a low-quiescent LDO (a few uA), no USB-serial chip powered.
CURRENT_MA = {
    "boot": 40.0,  # ROM, bootloader, MicroPython start, radio off
    "cpu": 35.0,  # running Python or blocked on flash, radio off
    "idle": 30.0,  # time.sleep with the radio off (FreeRTOS idle, no automatic light sleep)
    "radio_idle": 45.0,  # associated, DTIM modem sleep between beacons (FACTS: 30-60 mA)
    "radio_busy": 110.0,  # connecting, DNS, TCP/TLS, MQTT round trips: RX ~100 mA with TX bursts
    "deep": 0.015,  # RTC timer + RTC memory (10 uA) + regulator quiescent (5 uA)
}
ULP_MA_AT_1PCT = 0.100  # datasheet: ULP sensor-monitored pattern, 1 % duty
BATTERIES_MAH = {
    "Li-SOCl2 D cell (19 Ah, e.g. Tadiran TL-5930)": 19000.0,
    "2x AA lithium (Energizer L91, 3.0 Ah)": 3000.0,
}
DERATE = 0.8  # usable share of the rated capacity over a decade (self-discharge, pulse load, cold)


def ulp_ma(duty: float) -> float:
    """ULP current: the datasheet's 1 %-duty figure scaled by duty, on top of deep sleep."""
    return ULP_MA_AT_1PCT * duty / 0.01


@dataclass
class PowerMeter:
    """Milliseconds spent in each power state, and the charge they cost."""

    ms: dict[str, int] = field(default_factory=dict)
    extra_mas: float = 0.0  # mA*ms drawn on top of the state currents (the ULP while asleep)

    def add(self, state: str, ms: int) -> None:
        if ms > 0:
            self.ms[state] = self.ms.get(state, 0) + ms

    def add_charge(self, ma: float, ms: int) -> None:
        self.extra_mas += ma * ms

    @property
    def total_ms(self) -> int:
        return sum(self.ms.values())

    @property
    def awake_ms(self) -> int:
        return self.total_ms - self.ms.get("deep", 0)

    @property
    def mah(self) -> float:
        return (sum(CURRENT_MA[s] * ms for s, ms in self.ms.items()) + self.extra_mas) / 3_600_000

    def per_day(self) -> dict:
        """Awake seconds, radio seconds and mAh per day, and battery years."""
        days = self.total_ms / 86_400_000
        if days <= 0:
            return {}
        mah_day = self.mah / days
        radio_ms = self.ms.get("radio_idle", 0) + self.ms.get("radio_busy", 0)
        return {
            "days": round(days, 3),
            "awake_s_per_day": round(self.awake_ms / 1000 / days, 1),
            "radio_s_per_day": round(radio_ms / 1000 / days, 1),
            "mah_per_day": round(mah_day, 3),
            "years": {name: round(cap * DERATE / mah_day / 365, 1) for name, cap in BATTERIES_MAH.items()},
        }


def state_of(kind: str, radio: bool) -> str:
    """The power state of an exchange window of this kind."""
    if kind == "idle":
        return "radio_idle" if radio else "idle"
    if kind in ("dns", "connect", "tls", "wait") and radio:
        return "radio_busy"
    return "cpu"
