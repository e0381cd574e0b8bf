"""Injected leaks for a fleet: drawn at random for a fraction of households, or read from a plan file."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hardware_sim.household import Leak

KINDS = ("drip", "toilet", "burst")
MIN_FLOW_LPH = 1.0  # the smallest leak worth injecting: a slow drip
MAX_FLOW_LPH = 6000.0  # 100 L/min: a burst pipe at full mains pressure
DRIP_LPH = (1.0, 12.0)
TOILET_LPH = (1.0, 60.0)
BURST_LPM = (20.0, 40.0)
BURST_S = (300.0, 2700.0)


class LeakPlanError(ValueError):
    """A leak plan names an unknown meter or kind, or a time or flow out of range."""


def random_leak(rng: random.Random, duration_s: int) -> Leak:
    """One leak in virtual seconds [0, duration_s): a drip or running toilet left running, or a burst."""
    kind = rng.choices(KINDS, weights=(0.4, 0.4, 0.2))[0]
    start_s = round(rng.uniform(0, duration_s * 0.7))
    if kind == "burst":
        flow_lph = round(rng.uniform(*BURST_LPM) * 60, 1)
        end_s = min(duration_s, start_s + round(rng.uniform(*BURST_S)))
    else:
        lo, hi = DRIP_LPH if kind == "drip" else TOILET_LPH
        flow_lph = round(rng.uniform(lo, hi), 2)
        end_s = duration_s  # nobody has noticed it yet
    return Leak(kind, float(start_s), float(max(end_s, start_s + 60)), flow_lph)


def random_leaks(meter_ids: list[str], fraction: float, seed: int, duration_s: int) -> dict[str, list[Leak]]:
    """round(fraction × meters) households, chosen by seed, each with one random leak (virtual seconds)."""
    if not 0.0 <= fraction <= 1.0:
        raise LeakPlanError(f"leak fraction must be 0..1, not {fraction}")
    rng = random.Random(seed * 2654435761 + 17)
    chosen = rng.sample(meter_ids, round(fraction * len(meter_ids)))
    return {m: [random_leak(rng, duration_s)] for m in sorted(chosen)}


def _number(entry: dict, key: str, where: str) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LeakPlanError(f"{where}: {key} must be a number of {'L/h' if key == 'flow_lph' else 's'}")
    return float(value)


def parse_plan(doc: object, meter_ids: list[str], duration_s: int) -> dict[str, list[Leak]]:
    """Check a plan `{meter_id: [{kind, start_s, end_s, flow_lph}, ...]}` (virtual seconds from the start)."""
    if not isinstance(doc, dict):
        raise LeakPlanError("leak plan must be a JSON object of meter id -> list of leaks")
    known = set(meter_ids)
    plan: dict[str, list[Leak]] = {}
    for meter, leaks in doc.items():
        if meter not in known:
            raise LeakPlanError(f"leak plan names meter {meter!r}, which is not in this fleet")
        if not isinstance(leaks, list):
            raise LeakPlanError(f"{meter}: leaks must be a list")
        for n, entry in enumerate(leaks):
            where = f"{meter} leak {n}"
            if not isinstance(entry, dict):
                raise LeakPlanError(f"{where}: must be an object with kind, start_s, end_s, flow_lph")
            unknown = set(entry) - {"kind", "start_s", "end_s", "flow_lph"}
            if unknown:
                raise LeakPlanError(f"{where}: unknown field {sorted(unknown)[0]}")
            kind = entry.get("kind")
            if kind not in KINDS:
                raise LeakPlanError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
            start_s = _number(entry, "start_s", where)
            end_s = _number(entry, "end_s", where)
            flow_lph = _number(entry, "flow_lph", where)
            if not 0 <= start_s < duration_s:
                raise LeakPlanError(f"{where}: start_s must be 0..{duration_s} s (inside the run)")
            if end_s <= start_s:
                raise LeakPlanError(f"{where}: end_s must be after start_s")
            if not MIN_FLOW_LPH <= flow_lph <= MAX_FLOW_LPH:
                raise LeakPlanError(f"{where}: flow_lph must be {MIN_FLOW_LPH:g}..{MAX_FLOW_LPH:g} L/h")
            plan.setdefault(meter, []).append(Leak(kind, start_s, end_s, flow_lph))
    return plan


def load_plan(path: Path, meter_ids: list[str], duration_s: int) -> dict[str, list[Leak]]:
    """Read and check a leak plan file."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as err:
        raise LeakPlanError(f"cannot read leak plan {path}: {err}") from err
    except ValueError as err:
        raise LeakPlanError(f"leak plan {path} is not JSON: {err}") from err
    return parse_plan(doc, meter_ids, duration_s)


def shifted(leak: Leak, offset_s: float) -> Leak:
    """The leak in household seconds (virtual seconds + offset since local midnight)."""
    return Leak(leak.kind, leak.start_s + offset_s, leak.end_s + offset_s, leak.flow_lph)


def leaked_ml(leak: Leak, t0_s: float, t1_s: float) -> float:
    """Millilitres the leak drew in [t0, t1) (household seconds)."""
    overlap = min(leak.end_s, t1_s) - max(leak.start_s, t0_s)
    return leak.flow_lph / 3.6 * overlap if overlap > 0 else 0.0
