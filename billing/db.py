"""Relational model (SQLAlchemy 2.x): accounts, residents, meters, ledger, payments, alerts, outbox.

The tables live in the utility's SQL database (storage.sql: one engine factory for every table set;
`sqlite:///path.db` embedded, `postgresql+psycopg://user@host:port/db` in production). Money columns
are NUMERIC and map to Decimal; nothing here ever holds money as float.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage import sql
from storage.sql import UtcDateTime, utcnow

MAX_BINDINGS_PER_RESIDENT = 15
Money = Numeric(14, 2, asdecimal=True)
Litres = Numeric(16, 3, asdecimal=True)


class Base(DeclarativeBase):
    pass


class Resident(Base):
    """A person using the payment/metering app."""

    __tablename__ = "residents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token, stored only as its SHA-256 hex digest."""

    __tablename__ = "api_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # "resident" | "utility"
    subject: Mapped[str] = mapped_column(String(64))  # resident id or operator name
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Account(Base):
    """A utility's water account with a prepaid balance in yuan."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("utility", "account_number", name="uq_account_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    utility: Mapped[str] = mapped_column(String(32))  # tariff/city code, e.g. "beijing"
    account_number: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")  # holder's name at the utility
    group: Mapped[str | None] = mapped_column("group_name", String(100), nullable=True)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    low_balance_yuan: Mapped[Decimal | None] = mapped_column(Money, nullable=True)  # None: default
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    meters: Mapped[list[Meter]] = relationship(back_populates="account", order_by="Meter.meter_id")

    @property
    def key(self) -> str:
        """Public, topic-safe identifier: utility and account number."""
        return f"{self.utility}-{self.account_number}"


class ResidentAccount(Base):
    """A resident's binding of an account, with the resident's own name and group for it."""

    __tablename__ = "resident_accounts"
    __table_args__ = (UniqueConstraint("resident_id", "account_id", name="uq_binding"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    group: Mapped[str | None] = mapped_column("group_name", String(100), nullable=True)
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    account: Mapped[Account] = relationship()


class Meter(Base):
    """A water meter feeding one account."""

    __tablename__ = "meters"
    meter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    building: Mapped[str | None] = mapped_column(String(100), nullable=True)
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    account: Mapped[Account] = relationship(back_populates="meters")


class LedgerEntry(Base):
    """One change of an account's balance; `key` makes each change happen once."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "charge" | "topup" | "correction"
    amount: Mapped[Decimal] = mapped_column(Money)  # signed: charges are negative
    balance_after: Mapped[Decimal] = mapped_column(Money)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    meter_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    day: Mapped[date | None] = mapped_column(Date, nullable=True)
    volume_l: Mapped[Decimal | None] = mapped_column(Litres, nullable=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_ledger_account_day", "account_id", "day"),)


class Payment(Base):
    """A payment provider's notification; (provider, transaction_id) is unique."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "transaction_id", name="uq_payment_txn"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    transaction_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    notifications: Mapped[int] = mapped_column(Integer, default=1)
    credited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Alert(Base):
    """A stored alert with a lifecycle: open → acknowledged → resolved."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    meter_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))  # "leak" | "balance_low" | "days_left" | "leak_cost"
    state: Mapped[str] = mapped_column(String(16), default="open")
    # One condition = one alert: at most one unresolved alert per dedupe key (partial unique index).
    dedupe_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    account: Mapped[Account] = relationship()

    __table_args__ = (
        Index(
            "uq_alert_live",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
    )


class OutboxMessage(Base):
    """A message to deliver (webhook or MQTT), written in the same transaction as its alert change."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # "webhook" | "mqtt"
    target: Mapped[str] = mapped_column(String(500))  # webhook URL or MQTT topic
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)


# -- the apps: payment orders, automatic payment, notifications, alert workflow (billing/payments.py,
# billing/autopay.py, billing/notifications.py, billing/alert_workflow.py) -------------------------


class PaymentOrder(Base):
    """One payment by a resident for one or several accounts; credited once when the provider confirms."""

    __tablename__ = "payment_orders"
    __table_args__ = (UniqueConstraint("provider", "provider_txn", name="uq_order_txn"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    payer: Mapped[str] = mapped_column(String(64), index=True)  # resident id
    origin: Mapped[str] = mapped_column(String(16), default="app")  # "app" | "autopay"
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | paid | cancelled
    total: Mapped[Decimal] = mapped_column(Money)
    provider_txn: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lines: Mapped[list[PaymentOrderLine]] = relationship(
        back_populates="order", order_by="PaymentOrderLine.id", cascade="all, delete-orphan"
    )


class PaymentOrderLine(Base):
    """One account's share of a payment order."""

    __tablename__ = "payment_order_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("payment_orders.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), nullable=True)
    order: Mapped[PaymentOrder] = relationship(back_populates="lines")


class AutopaySetting(Base):
    """Automatic payment of one account: top up `amount` when the balance falls below `below`."""

    __tablename__ = "autopay_settings"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(64), index=True)  # who pays
    enabled: Mapped[bool] = mapped_column(default=True)
    below_yuan: Mapped[Decimal] = mapped_column(Money)
    amount_yuan: Mapped[Decimal] = mapped_column(Money)
    monthly_cap_yuan: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Notification(Base):
    """One item of a resident's in-app list: a kind and its parameters (the app words it per language)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("resident_id", "key", name="uq_notification"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AlertAction(Base):
    """An operator's step on an alert: note, assign or resolve; public notes reach the resident."""

    __tablename__ = "alert_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # "note" | "assign" | "resolve"
    by: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str | None] = mapped_column(String(100), nullable=True)
    public: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Database(sql.Database):
    """The utility's database with billing's tables (storage.sql.Database plus create/drop of them)."""

    def create_all(self) -> None:
        """Create billing's missing tables (idempotent)."""
        self.create_tables(Base.metadata)

    def drop_all(self) -> None:
        """Drop billing's tables (tests)."""
        Base.metadata.drop_all(self.engine)


__all__ = [
    "MAX_BINDINGS_PER_RESIDENT",
    "Account",
    "Alert",
    "AlertAction",
    "ApiToken",
    "AutopaySetting",
    "Base",
    "Database",
    "LedgerEntry",
    "Meter",
    "Notification",
    "OutboxMessage",
    "Payment",
    "PaymentOrder",
    "PaymentOrderLine",
    "Resident",
    "ResidentAccount",
    "UtcDateTime",
    "utcnow",
]
