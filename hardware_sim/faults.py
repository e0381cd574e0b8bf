"""Faults a test can script against a simulated board, and random fault plans."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

KINDS = ("power_loss", "watchdog", "brownout", "wifi_down", "wifi_up", "ntp_down", "ntp_up", "ntp_bogus",
         "ntp_short", "clock_jump", "bounce_on", "bounce_off", "button_down", "button_up", "call")
RESETS = ("power_loss", "watchdog", "brownout")


@dataclass(frozen=True)
class Fault:
    """Something that happens to a board at a virtual time.

    power_loss: power is cut inside one of the next flash operations (torn) or wherever the CPU
        is; RTC memory is lost, flash kept as it was at the cut.
    brownout: the same, reported by the chip as a brown-out reset (reset_cause() still says power-on).
    watchdog: killed at a random instant; RTC memory kept (a watchdog reset).
    ntp_bogus / ntp_short: NTP answers 0 (2036-02-07 after ntptime's era arithmetic) / a truncated
        packet; ntp_up restores true answers.
    wifi_down / wifi_up, ntp_down / ntp_up: the link or the NTP server goes away / returns.
    clock_jump: the board's RTC wall clock jumps by `arg` seconds.
    bounce_on (arg = chatter edges per transition) / bounce_off: reed contact bounce.
    button_down / button_up: a person presses / releases the button on pin `arg` (default 0, BOOT).
    call: `arg(board)` runs in the board's thread with virtual time paused (broker stop/start).
    """

    at_s: float
    kind: str
    arg: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.at_s < 0:
            raise ValueError("fault time must be >= 0 s")
        if self.kind == "call" and not callable(self.arg):
            raise ValueError("a call fault needs a callable arg")


def random_plan(seed: int, duration_s: int, every_s: float,
                kinds: tuple[str, ...] = ("power_loss", "watchdog"), start_s: float = 60.0) -> list[Fault]:
    """Faults of the given kinds at random instants, on average one per every_s seconds."""
    rng = random.Random(seed)
    plan: list[Fault] = []
    t = start_s
    while True:
        t += rng.expovariate(1.0 / every_s)
        if t >= duration_s:
            return plan
        kind = rng.choice(kinds)
        arg: Any = None
        if kind == "clock_jump":
            arg = rng.choice([-7200, -90, 45, 3600])
        elif kind == "bounce_on":
            arg = rng.randint(1, 4)
        plan.append(Fault(round(t, 3), kind, arg))


def outage(start_s: float, length_s: float, link: str = "wifi") -> list[Fault]:
    """A link ("wifi" or "ntp") down at start_s and back length_s later."""
    if link not in ("wifi", "ntp"):
        raise ValueError("link must be wifi or ntp")
    return [Fault(start_s, f"{link}_down"), Fault(start_s + length_s, f"{link}_up")]
