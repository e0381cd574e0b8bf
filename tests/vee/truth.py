"""Adversarial reading histories with a known truth: per-segment register values at every reading."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from core.readings import Reading
from vee.model import Window

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
RF_MAX_ML = 50_000  # VeeConfig.reverse_flow_max_ml default


@dataclass
class Truth:
    """Readings as the meters made them, and the register segments they belong to."""

    readings: list[Reading] = field(default_factory=list)
    segments: list[list[tuple[int, int]]] = field(default_factory=list)  # [(ts, register ml)]
    windows: list[Window] | None = None
    point: str = "A"

    def times(self) -> list[int]:
        return sorted({t for seg in self.segments for t, _ in seg})

    def register_diff(self, a: int, b: int) -> int:
        """Sum over segments of the register difference between instants a <= b (reading times)."""
        total = 0
        for seg in self.segments:
            total += _at(seg, b) - _at(seg, a)
        return total


def _at(seg: list[tuple[int, int]], t: int) -> int:
    if t <= seg[0][0]:
        return seg[0][1]
    value = seg[0][1]
    for ts, v in seg:
        if ts > t:
            break
        value = v
    return value


STEP = st.sampled_from([60, 60, 60, 300, 900, 3600, 2 * 3600 + 60, 26 * 3600, 4 * 86400])
USE = st.one_of(st.just(0), st.integers(1, 2_000), st.integers(2_000, 400_000))
EVENT = st.sampled_from(["read"] * 12 + ["reboot", "reset", "drop", "swap"])


@st.composite
def histories(draw, max_steps: int = 60, allow_swap: bool = True) -> Truth:
    """A meter's life: reads, reboots, register resets, unannounced drops, and at most one swap."""
    truth = Truth()
    meter, boot, seq = "A", 0, 0
    total = draw(st.integers(0, 50_000_000))
    t = T0 + draw(st.integers(0, 3600))
    seg: list[tuple[int, int]] = []

    def read():
        nonlocal seq
        truth.readings.append(Reading(meter, t, total, seq, boot))
        seg.append((t, total))
        seq += 1

    read()
    swapped = False
    for _ in range(draw(st.integers(1, max_steps))):
        t += draw(STEP)
        event = draw(EVENT)
        if event == "reboot":
            boot += 1
            read()  # the first reading after boot continues the register
        elif event == "reset" and total > 0:
            boot += 1
            truth.segments.append(seg)
            seg = []
            total = draw(st.integers(0, total - 1))
            read()
        elif event == "drop" and total > RF_MAX_ML + 2_000_000:
            # Register swapped under the same boot: a drop far beyond reverse flow.
            truth.segments.append(seg)
            seg = []
            total = draw(st.integers(0, total - RF_MAX_ML - 2_000_000))
            read()
        elif event == "swap" and allow_swap and not swapped:
            swapped = True
            final_ml = total + draw(USE)
            seg.append((t, final_ml))
            truth.segments.append(seg)
            new_total = draw(st.integers(0, 10_000_000))
            truth.windows = [Window("A", None, t, None, final_ml), Window("B", t, None, new_total, None)]
            meter, boot, seq, total = "B", 0, 0, new_total
            seg = [(t, new_total)]
            t += draw(STEP)
            total += draw(USE)
            read()
        else:
            total += draw(USE)
            read()
    truth.segments.append(seg)
    truth.segments = [s for s in truth.segments if s]
    return truth


@st.composite
def deliveries(draw, truth: Truth) -> list[list[Reading]]:
    """The same readings shuffled, partly duplicated, in batches of any size."""
    extra = draw(st.lists(st.sampled_from(truth.readings), max_size=len(truth.readings)))
    delivered = draw(st.permutations(truth.readings + extra))
    cuts = sorted(draw(st.lists(st.integers(0, len(delivered)), max_size=6)))
    batches, prev = [], 0
    for c in [*cuts, len(delivered)]:
        batches.append(delivered[prev:c])
        prev = c
    return [b for b in batches if b]
