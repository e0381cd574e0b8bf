"""Request and response models of the apps' routes: account cards and overview, payment orders,
automatic payment, notifications, and the console (fleet list, meter detail, alert workflow)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from dashboard_api.schemas.billing import Amount, Strict


class TierBandOut(BaseModel):
    from_l: str
    to_l: str | None = Field(description="null: the last tier has no bound")
    yuan_per_m3: str


class OverviewOut(BaseModel):
    """An account's balance, warning level, days left and tier position (days local to its utility)."""

    account_id: int
    today: date
    tz: str = Field(description="the utility's IANA zone: days and billing periods are local to it")
    balance_yuan: str
    low_balance_yuan: str
    low_balance_is_default: bool
    below_low_balance: bool
    daily_l: str | None = Field(description="mean litres per day over the recent charged days")
    days_left: int | None = Field(
        description="days the balance lasts at that rate under the tiers; null: a year+"
    )
    last_payment_at: datetime | None
    period: Literal["annual", "monthly"]
    period_start: date
    period_end: date = Field(description="first day of the next period")
    period_used_l: str = Field(description="litres charged in this period before today")
    tiers: list[TierBandOut]
    tier_index: int = Field(description="0-based index of the tier the next litre is charged in")
    price_yuan_per_m3: str
    to_next_tier_l: str | None
    next_price_yuan_per_m3: str | None


class AccountCardOut(BaseModel):
    """One of a resident's accounts as listed in the app (sorted by last payment, newest first)."""

    id: int
    key: str
    utility: str
    account_number: str
    name: str
    group: str | None
    balance_yuan: str
    low_balance_yuan: str
    below_low_balance: bool
    days_left: int | None
    last_payment_at: datetime | None
    meters: list[str]
    live_alerts: int
    tz: str = Field(description="the utility's IANA zone, for the account's dates and times")
    access: Literal["holder", "pay", "view"] = Field(
        "holder", description="the resident's right: the holder, or a family member given pay or view"
    )


class LowBalanceIn(Strict):
    low_balance_yuan: Amount | None = Field(description="null: back to the utility's default (20 yuan)")


class OrderLineIn(Strict):
    account_id: int = Field(ge=1, le=2**31 - 1)
    amount: Amount


class OrderIn(Strict):
    lines: list[OrderLineIn] = Field(min_length=1, max_length=15)


class OrderLineOut(BaseModel):
    account_id: int
    amount: str
    credited: bool


class OrderOut(BaseModel):
    order_id: str
    status: Literal["pending", "paid", "cancelled"]
    origin: Literal["app", "autopay"]
    provider: str
    total: str
    created_at: datetime
    paid_at: datetime | None
    lines: list[OrderLineOut]
    pay_url: str | None = Field(None, description="where to pay, for providers with a payment page")


class AutopayIn(Strict):
    enabled: bool
    below_yuan: Amount
    amount_yuan: Amount
    monthly_cap_yuan: Amount


class AutopayOut(BaseModel):
    account_id: int
    configured: bool
    enabled: bool
    below_yuan: str | None
    amount_yuan: str | None
    monthly_cap_yuan: str | None
    paid_by_me: bool = Field(description="whether the caller's agreement pays it")
    spent_this_month_yuan: str


class NotificationOut(BaseModel):
    id: int
    kind: Literal["alert_opened", "alert_resolved", "payment_credited"]
    account_id: int | None
    params: dict
    created_at: datetime
    read: bool
    tz: str = Field(description="the account's utility zone (the server's default when no account)")


class NotificationsOut(BaseModel):
    unread: int
    items: list[NotificationOut]


class ReadIn(Strict):
    ids: list[int] | None = Field(None, max_length=1000, description="null: mark all read")


class AlertProgressOut(BaseModel):
    alert_id: int
    assigned: bool
    notes: list[tuple[datetime, str]]


class AlertNoteIn(Strict):
    text: str = Field(min_length=1, max_length=2000)
    public: bool = Field(False, description="shown to the account's residents")


class AlertAssignIn(Strict):
    assignee: str = Field(min_length=1, max_length=100)


class AlertResolveIn(Strict):
    note: str = Field("", max_length=2000)


class AlertActionOut(BaseModel):
    id: int
    alert_id: int
    action: str
    by: str
    text: str
    assignee: str | None
    public: bool
    at: datetime


class StatusOut(BaseModel):
    ts: datetime
    state: str
    fw: str | None
    rssi_dbm: float | None
    battery_pct: float | None
    boot: int | None
    reset_cause: str | None


class FleetMeterOut(BaseModel):
    meter_id: str
    account_id: int | None
    account: str | None
    district: str | None
    building: str | None
    last_reading_at: datetime | None
    last_total_l: float | None
    silent_h: float | None
    state: str | None = Field(description="online / offline from its last status message; null: none yet")
    fw: str | None
    rssi_dbm: float | None
    battery_pct: float | None
    open_alerts: int


class FleetPageOut(BaseModel):
    total: int = Field(description="meters matching the filters (all pages)")
    offset: int
    limit: int
    items: list[FleetMeterOut]
    firmware: list[str] = Field(description="firmware versions seen, for the filter")


class MeterDetailOut(BaseModel):
    meter: FleetMeterOut
    installed_at: datetime | None
    utility: str | None
    status: list[StatusOut]
    alerts: list[dict]
