"""Hypothesis strategies for register histories: use, reverse flow, resets, boots, register sets, gaps."""

from __future__ import annotations

from hypothesis import strategies as st

from core.consumption import Mark

T0 = 1_700_000_000


@st.composite
def histories(draw, min_size: int = 0, max_size: int = 60, t0: int = T0) -> list[Mark]:
    """Readings of one meter in time order, with every kind of step the rule distinguishes."""
    n = draw(st.integers(min_size, max_size))
    out: list[Mark] = []
    t, total, boot = t0, draw(st.integers(0, 5_000_000)), draw(st.integers(0, 3))
    for _ in range(n):
        t += draw(st.sampled_from([1, 30, 60, 60, 60, 300, 3600, 7200, 86_400]))
        kind = draw(
            st.sampled_from(["use", "use", "use", "none", "reverse", "reset", "boot", "set_up", "big_drop"])
        )
        if kind == "use":
            total += draw(st.integers(0, 30_000))
        elif kind == "reverse":
            total = max(0, total - draw(st.integers(1, 60_000)))
        elif kind == "reset":
            boot += 1
            total = draw(st.integers(0, 1000))
        elif kind == "boot":
            boot += 1
            total += draw(st.integers(0, 5_000))
        elif kind == "set_up":
            boot += 1
            total += draw(st.integers(10_000_000, 90_000_000))
        elif kind == "big_drop":
            total = max(0, total - draw(st.integers(50_001, 2_000_000)))
        b = None if draw(st.integers(0, 9)) == 0 else boot  # now and then a photo/manual reading
        out.append(Mark(t, total, b))
    return out


@st.composite
def partitions(draw, items: list):
    """`items` cut into consecutive non-empty runs."""
    if not items:
        return []
    cuts = (
        sorted(draw(st.sets(st.integers(1, len(items) - 1), max_size=len(items) - 1)))
        if len(items) > 1
        else []
    )
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
