"""Request and response models of the accounts, payments and alerts routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.ids import METER_ID_PATTERN

Amount = Annotated[
    str, Field(description='decimal yuan as a string, at most 2 places, e.g. "50.00"', max_length=20)
]


class Strict(BaseModel):
    """Refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class MeterIn(Strict):
    meter_id: str = Field(pattern=METER_ID_PATTERN)
    district: str | None = Field(None, max_length=100)
    building: str | None = Field(None, max_length=100)
    installed_at: datetime | None = None


class AccountCreate(Strict):
    utility: str = Field(max_length=32)
    account_number: str = Field(max_length=16)
    name: str = Field("", max_length=200)
    group: str | None = Field(None, max_length=100)
    meters: list[MeterIn] = Field(default_factory=list, max_length=50)


class BindIn(Strict):
    utility: str = Field(max_length=32, examples=["beijing"])
    account_number: str = Field(max_length=16, examples=["0123456789"])
    name: str = Field("", max_length=100, description="the resident's own name for it, e.g. 'Mum's flat'")
    group: str | None = Field(None, max_length=100)


class BindingPatch(Strict):
    name: str | None = Field(None, max_length=100)
    group: str | None = Field(None, max_length=100)


class AccountOut(BaseModel):
    """An account with its balance and meters, as its resident (or an operator) sees it."""

    id: int
    key: str
    utility: str
    account_number: str
    holder_name: str
    name: str = Field(description="the resident's name for the account (its number for operators)")
    group: str | None
    balance: str
    last_activity_at: datetime
    meters: list[str]


class AccountDetail(AccountOut):
    live_alerts: list[dict]


class LedgerOut(BaseModel):
    id: int
    kind: str
    amount: str
    balance_after: str
    meter_id: str | None
    day: str | None
    volume_l: str | None
    note: str
    created_at: datetime


class PaymentIn(Strict):
    provider: str = Field(min_length=1, max_length=32, examples=["alipay"])
    transaction_id: str = Field(min_length=1, max_length=64)
    utility: str = Field(max_length=32)
    account_number: str = Field(max_length=16)
    amount: Amount
    status: Literal["paid"] = "paid"
    paid_at: datetime | None = None


class PaymentOut(BaseModel):
    payment_id: int
    credited: bool = Field(description="true the first time; false for a repeated notification")
    account_id: int
    amount: str
    balance: str


class CorrectionIn(Strict):
    amount: Amount
    reason: str = Field(min_length=1, max_length=500)
    key: str | None = Field(None, max_length=100, description="idempotency key; retries with it post once")


class StatementLineIn(Strict):
    transaction_id: str = Field(min_length=1, max_length=64)
    utility: str = Field(max_length=32)
    account_number: str = Field(max_length=16)
    amount: Amount


class StatementIn(Strict):
    provider: str = Field(min_length=1, max_length=32)
    lines: list[StatementLineIn] = Field(max_length=100000)
    since: datetime | None = None
    until: datetime | None = None
