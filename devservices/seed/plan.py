"""Who lives in the demo: households on the three tariffs, their meters, accounts, habits and fixtures.

Deterministic for a seed: the same households, leaks and registers every run. Household i is
`Household(seed * 7919 + i)` (hardware_sim's model, the seed formula of hardware_sim.fleet) living by a
`Year` that starts at the history's first local day; a few meters serve a whole courtyard of families
(several households on one meter: the heavy users whose annual tiers have moved).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from core.tariffs import tariff_for
from core.timezones import local_date, midnight_s, zone
from core.units import HOUR_S
from hardware_sim.household import DAY_S, Household, Leak
from hardware_sim.year import Year

UTILITIES = ("beijing", "shanghai", "guangzhou")
CITY = {"beijing": "Beijing", "shanghai": "Shanghai", "guangzhou": "Guangzhou"}
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun")
GIVEN = ("Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Jun", "Hui", "Tao", "Ping", "Xin", "Hong")
LOW_BALANCE_YUAN = (8, 18)  # the low-balance household ends with a balance in this range (< 20)
LITRES_PER_DAY = 370.0  # a three-person household of the model, for sizing the courtyard meters
RESIDENT = "demo-resident"  # the resident whose login the demo prints


@dataclass(frozen=True)
class TopUp:
    """A household's paying habit: top up `amount_yuan` when the balance falls below `below_yuan`."""

    below_yuan: int
    amount_yuan: int


@dataclass
class Home:
    """One meter, the households behind it, its account and its part in the demo."""

    index: int
    meter_id: str
    utility: str
    account_number: str
    holder: str  # the account holder's name at the utility
    address: str  # "Building 5, Unit 2, Room 301"
    households: list[Household]
    initial_ml: int  # the register when the history starts (the meter was installed years before)
    habit: TopUp
    roles: set[str] = field(default_factory=set)  # leak, low_balance, pending_photo, courtyard, resident

    @property
    def leaks(self) -> list[Leak]:
        """Leaks of the home in household seconds (they live on the first household)."""
        return self.households[0].leaks


@dataclass(frozen=True)
class Plan:
    """The demo's homes and the history's time frame (history: (origin_s, now_s], minute readings)."""

    homes: list[Home]
    origin_s: int  # local midnight of the history's first day: the households' virtual second 0
    now_s: int  # the last seeded reading (a minute boundary); the live meters go on from here
    first_day: date
    zone_name: str

    @property
    def last_full_day(self) -> date:
        """The last local day the ledger charges (yesterday)."""
        return local_date(self.now_s, zone(self.zone_name)) - timedelta(days=1)


def _months_back(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return date(y, m + 1, 1)


def _account_number(utility: str, i: int) -> str:
    digits = tariff_for(utility).account_number_digits
    prefix = {"beijing": "11", "shanghai": "31", "guangzhou": "44"}[utility]
    return prefix + str(i + 1).zfill(digits - len(prefix))


def _courtyard_families(utility: str, elapsed_days: int) -> int:
    """Families on a courtyard meter so the first tier bound falls about 70 % into the period so far."""
    tariff = tariff_for(utility)
    bound_l = float(tariff.tiers[0].up_to_m3 or 0) * 1000
    days = elapsed_days if tariff.period == "annual" else 30
    need = bound_l / (LITRES_PER_DAY * max(days, 1) * 0.7)
    return max(2, min(6, math.ceil(need)))


def make_plan(households: int, months: int, now_s: int, seed: int = 1, id_prefix: str = "demo") -> Plan:
    """The demo's homes: round-robin over the three tariffs, with the fixtures on the first homes."""
    if households < 6:
        raise ValueError("the demo needs at least 6 households (leaks, low balance, photo, courtyards)")
    if not 1 <= months <= 24:
        raise ValueError("months of history must be 1..24")
    zone_name = tariff_for("beijing").zone_name
    tz = zone(zone_name)
    now_s -= now_s % 60
    today = local_date(now_s, tz)
    first_day = _months_back(today, months).replace(day=min(today.day, 28))
    origin_s = midnight_s(first_day, tz)
    year = Year(first_day, days=(today - first_day).days + 400)
    rng = random.Random(seed * 31 + 7)
    now_virtual_s = now_s - origin_s
    homes: list[Home] = []
    for i in range(households):
        utility = UTILITIES[i % 3]
        house = Household(seed=seed * 7919 + i, year=year)
        members = [house]
        roles: set[str] = set()
        if i in (1, 2, 3):  # one courtyard meter on each tariff: the heavy users whose tiers moved
            roles.add("courtyard")
            period_start = tariff_for(utility).period_start(today)
            n = _courtyard_families(utility, (today - period_start).days)
            members += [Household(seed=seed * 7919 + 10_000 * k + i, year=year) for k in range(1, n)]
        home = Home(
            index=i,
            meter_id=f"{id_prefix}-{i:04d}",
            utility=utility,
            account_number=_account_number(utility, i),
            holder=f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
            address=f"Building {1 + i // 6}, Unit {1 + i % 3}, Room {rng.randint(1, 18)}0{rng.randint(1, 4)}",
            households=members,
            initial_ml=rng.randint(40_000, 900_000) * 1000,
            habit=TopUp(rng.choice((30, 50)), rng.choice((100, 200, 300, 500))),
            roles=roles,
        )
        homes.append(home)
    # Leaks running now (the live meters go on leaking): a dripping tap for 3.5 days, a running toilet
    # for 2 days, both on light meters; a burst pipe on demo-0001 three minutes into the live run.
    drip_start = now_virtual_s - int(3.5 * DAY_S)
    homes[4].households[0].leaks.append(Leak("drip", drip_start, now_virtual_s + 365 * DAY_S, 9.0))
    homes[4].roles.add("leak")
    toilet_start = now_virtual_s - 2 * DAY_S - 5 * HOUR_S
    homes[5].households[0].leaks.append(Leak("toilet", toilet_start, now_virtual_s + 365 * DAY_S, 28.0))
    homes[5].roles.add("leak")
    homes[1].households[0].leaks.append(
        Leak("burst", now_virtual_s + 180, now_virtual_s + 180 + 40 * 60, 1500.0)
    )
    homes[1].roles.add("live_burst")
    homes[0].roles |= {"resident", "pending_photo"}
    homes[2].roles.add("resident")
    low = next(h for h in homes[6:] + homes if "courtyard" not in h.roles and "leak" not in h.roles)
    low.roles |= {"low_balance", "resident"}
    low.habit = TopUp(20, 50)
    return Plan(homes, origin_s, now_s, first_day, zone_name)
