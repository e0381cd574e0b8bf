"""Request and response models of the accounts, payments and alerts routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.ids import METER_ID_PATTERN
from core.tariffs import load_tariffs

# The document lists the known utilities and the digits of an account number; the domain checks them
# (core.tariffs) and names the exact format of each utility in its 422.
Utility = Annotated[
    str, Field(max_length=32, json_schema_extra={"enum": sorted(load_tariffs())}, examples=["beijing"])
]
AccountNumber = Annotated[
    str,
    Field(
        max_length=16,
        json_schema_extra={"pattern": "^[0-9]{8,12}$"},
        description="the utility's account number: 10 digits (Beijing), 8 (Shanghai), 12 (Guangzhou)",
        examples=["0123456789"],
    ),
]

Amount = Annotated[
    str, Field(description='decimal yuan as a string, at most 2 places, e.g. "50.00"', max_length=20)
]


class Strict(BaseModel):
    """Refuses unknown fields (no mass assignment: `balance`, `holder`... are never taken from a body)
    and numbers JSON does not have (NaN, Infinity)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


Phone = Annotated[
    str,
    Field(
        min_length=11,
        max_length=20,
        description="the holder's mainland mobile number on file, e.g. 13800138000 (+86 accepted)",
    ),
]
IdLast4 = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{3}[0-9Xx]$",
        description="the last 4 characters of the holder's ID card (3 digits, then a digit or X)",
    ),
]


class MeterIn(Strict):
    meter_id: str = Field(pattern=METER_ID_PATTERN)
    district: str | None = Field(None, max_length=100)
    building: str | None = Field(None, max_length=100)
    installed_at: datetime | None = None


class AccountCreate(Strict):
    utility: Utility
    account_number: AccountNumber
    name: str = Field("", max_length=200)
    group: str | None = Field(None, max_length=100)
    meters: list[MeterIn] = Field(default_factory=list, max_length=50)
    holder_phone: Phone | None = None
    holder_id_last4: IdLast4 | None = None


class AccountPatch(Strict):
    """What an operator may change on an account (the balance only through the ledger)."""

    name: str | None = Field(None, max_length=200, description="the holder's name at the utility")
    holder_phone: Phone | None = None
    holder_id_last4: IdLast4 | None = None


class BindIn(Strict):
    """Start binding an account: the utility's account number."""

    utility: Utility
    account_number: AccountNumber


class BindingRequestOut(BaseModel):
    """An opened binding request; the same for every well-formed account number, existing or not."""

    request_id: str = Field(description="for POST /v1/accounts/bindings/{request_id}/verify")
    methods: list[Literal["sms", "id_last4"]] = Field(
        description="what the utility asks for: sms (a code sent to the holder's phone on file), "
        "id_last4 (the last 4 characters of the holder's ID card), or both"
    )
    expires_at: datetime
    verify_fields: list[Literal["sms_code", "id_last4"]] = Field(description="fields the verify call needs")


class VerifyIn(Strict):
    """The proofs the utility asks for, and the resident's own name and group for the account."""

    sms_code: str | None = Field(None, pattern=r"^[0-9]{6}$", description="the 6 digits of the text message")
    id_last4: IdLast4 | None = None
    name: str = Field("", max_length=100, description="the resident's own name for it, e.g. 'Mum's flat'")
    group: str | None = Field(None, max_length=100)


class DelegationIn(Strict):
    """Give another resident view or pay rights on this account."""

    resident: str = Field(min_length=1, max_length=64, description="the other resident's id")
    rights: Literal["view", "pay"]


class DelegationOut(BaseModel):
    id: int
    account_id: int
    grantor: str
    resident: str
    rights: Literal["view", "pay"]
    granted_at: datetime


class AuditOut(BaseModel):
    """One binding audit event."""

    id: int
    at: datetime
    event: str
    resident: str | None
    subject: str | None = Field(description="utility:account number named (known or not)")
    account_id: int | None
    origin: str = Field(description="client address")
    detail: str


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
    access: Literal["operator", "holder", "pay", "view"] = Field(
        description="the caller's right on it: holder (bound with verification), pay or view (delegated)"
    )


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
