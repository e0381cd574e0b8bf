"""The resident app's account views: the cards list, an account's overview, its warning level, and
what the utility has done about its alerts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from billing import alert_workflow
from billing import alerts as alerts_mod
from billing.access import RIGHT_NAMES, accessible, binding
from billing.balance import WarningRules
from billing.config import get_billing_settings
from billing.overview import Overview, overview
from billing.payments import last_payment_at
from core.errors import Invalid
from core.money import AmountError, parse_amount
from dashboard_api.auth import AnyCaller
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.routes.accounts import visible_account
from dashboard_api.schemas.apps import (
    AccountCardOut,
    AlertProgressOut,
    LowBalanceIn,
    OverviewOut,
    TierBandOut,
)

router = APIRouter(prefix="/v1", tags=["resident app"])
AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LOW_BALANCE_MAX = Decimal("10000.00")


def rules() -> WarningRules:
    """The utility's warning thresholds (WM_BILLING_*)."""
    return WarningRules.from_settings(get_billing_settings())


def _text(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def overview_out(o: Overview) -> OverviewOut:
    """An overview as the API shows it (money and litres as decimal text)."""
    return OverviewOut(
        account_id=o.account_id,
        today=o.today,
        tz=o.zone,
        balance_yuan=str(o.balance_yuan),
        low_balance_yuan=str(o.low_balance_yuan),
        low_balance_is_default=o.low_balance_is_default,
        below_low_balance=o.below_low_balance,
        daily_l=_text(o.daily_l),
        days_left=o.days_left,
        last_payment_at=o.last_payment_at,
        period=o.period,  # type: ignore[arg-type]
        period_start=o.period_start,
        period_end=o.period_end,
        period_used_l=str(o.period_used_l),
        tiers=[
            TierBandOut(from_l=str(b.from_l), to_l=_text(b.to_l), yuan_per_m3=str(b.yuan_per_m3))
            for b in o.tiers
        ],
        tier_index=o.tier_index,
        price_yuan_per_m3=str(o.price_yuan_per_m3),
        to_next_tier_l=_text(o.to_next_tier_l),
        next_price_yuan_per_m3=_text(o.next_price_yuan_per_m3),
    )


@router.get(
    "/me/accounts",
    response_model=list[AccountCardOut],
    summary="The resident's accounts with balance and days left, most recently paid first",
)
def my_accounts(caller: AnyCaller, s: BillingTx, clock: ClockDep) -> list[AccountCardOut]:
    if caller.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "residents only")
    rights = accessible(s, caller.subject)
    accounts = [x.account for x in rights]
    access = {x.account.id: RIGHT_NAMES[x.right] for x in rights}
    paid = last_payment_at(s, [a.id for a in accounts])
    now, r = clock(), rules()
    cards = []
    for a in accounts:
        o = overview(s, a, now, r)
        bound = binding(s, caller.subject, a.id)
        cards.append(
            AccountCardOut(
                id=a.id,
                key=a.key,
                utility=a.utility,
                account_number=a.account_number,
                name=bound.name if bound else a.account_number,
                group=bound.group if bound else None,
                balance_yuan=str(a.balance),
                low_balance_yuan=str(o.low_balance_yuan),
                below_low_balance=o.below_low_balance,
                days_left=o.days_left,
                last_payment_at=paid.get(a.id),
                meters=[m.meter_id for m in a.meters],
                live_alerts=len(alerts_mod.list_alerts(s, [a.id], "live")),
                tz=o.zone,
                access=access[a.id],
            )
        )
    return sorted(cards, key=_by_last_payment)


def _by_last_payment(c: AccountCardOut) -> tuple[int, float, str]:
    """Most recently paid first; accounts never paid last, by name."""
    if c.last_payment_at is None:
        return (1, 0.0, c.name)
    return (0, -c.last_payment_at.timestamp(), c.name)


@router.get(
    "/accounts/{account_id}/overview", response_model=OverviewOut, summary="Balance, days left, tiers"
)
def get_overview(account_id: AccountId, caller: AnyCaller, s: BillingTx, clock: ClockDep) -> OverviewOut:
    account, _ = visible_account(s, caller, account_id)
    return overview_out(overview(s, account, clock(), rules()))


@router.put(
    "/accounts/{account_id}/low-balance",
    response_model=OverviewOut,
    summary="Set the balance below which the account warns (null: the default, 20 yuan)",
)
def put_low_balance(
    account_id: AccountId, body: LowBalanceIn, caller: AnyCaller, s: BillingTx, clock: ClockDep
) -> OverviewOut:
    account, _ = visible_account(s, caller, account_id)
    if body.low_balance_yuan is None:
        account.low_balance_yuan = None
    else:
        try:
            value = parse_amount(body.low_balance_yuan, positive=False)
        except AmountError as err:
            raise Invalid(str(err)) from err
        if not Decimal(0) <= value <= LOW_BALANCE_MAX:
            raise Invalid(f"the warning level is 0 to {LOW_BALANCE_MAX} yuan")
        account.low_balance_yuan = value
    s.flush()
    return overview_out(overview(s, account, clock(), rules()))


@router.get(
    "/accounts/{account_id}/alert-progress",
    response_model=list[AlertProgressOut],
    summary="The utility's work on the account's alerts as its residents see it",
)
def alert_progress(account_id: AccountId, caller: AnyCaller, s: BillingTx) -> list[AlertProgressOut]:
    visible_account(s, caller, account_id)
    ids = [a.id for a in alerts_mod.list_alerts(s, [account_id], None, 50)]
    found = alert_workflow.progress(s, ids)
    return [AlertProgressOut(alert_id=i, assigned=p.assigned, notes=p.notes) for i, p in found.items()]
