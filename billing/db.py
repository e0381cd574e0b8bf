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
    Engine,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.schema import CreateTable

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


class HolderContact(Base):
    """What the utility holds about an account's holder, for verifying a binding.

    The phone number is kept as given (the SMS gateway needs it); the ID card's last 4 characters only
    as an HMAC-SHA256 under the server's verification key (billing.hashing): without the key, a copy
    of the database does not tell them, even by trying all 11,000 possible values.
    """

    __tablename__ = "holder_contacts"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    id_last4_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BindingRequest(Base):
    """A resident's pending request to bind an account: the code (hashed), its expiry and attempts.

    `account_id` is None when no such account exists: the request is answered and checked exactly as
    a real one, and can never succeed (no enumeration of account numbers).
    """

    __tablename__ = "binding_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(64), index=True)
    subject_key: Mapped[str] = mapped_column(String(64))  # "<utility>:<account number>"
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    methods: Mapped[str] = mapped_column(String(32))  # comma-separated, e.g. "sms,id_last4"
    code_hmac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # used or replaced


class AuditEvent(Base):
    """Who bound, unbound, failed, was locked out, granted or revoked what, when and from where."""

    __tablename__ = "binding_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(16))
    resident_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # kept if the account goes
    origin: Mapped[str] = mapped_column(String(64), default="")  # client address
    detail: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        Index("ix_audit_subject_at", "subject_key", "at"),
        Index("ix_audit_resident_at", "resident_id", "at"),
    )


class Delegation(Base):
    """A holder's grant of view or pay rights on one account to another resident (revocable)."""

    __tablename__ = "delegations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    grantor_id: Mapped[str] = mapped_column(String(64))
    grantee_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    rights: Mapped[str] = mapped_column(String(8))  # "view" | "pay"
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    account: Mapped[Account] = relationship()

    __table_args__ = (
        Index(
            "uq_delegation_live",
            "account_id",
            "grantee_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


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
    # None: an alert for the utility alone (a leak on a meter no account holds).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=True
    )
    meter_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # "leak" | "unusual_use" | "balance_low" | "days_left" | "leak_cost"
    kind: Mapped[str] = mapped_column(String(32))
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
    account: Mapped[Account | None] = relationship()

    __table_args__ = (
        Index(
            "uq_alert_live",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
    )


class LeakFeedback(Base):
    """A resident's (or operator's) word on a leak alert or unusual-use notice, for the monitor to learn.

    verdict "mine": the water was theirs (a pool, a garden, a guest); "not_mine": it was not.
    """

    __tablename__ = "leak_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    meter_id: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    rate_lph: Mapped[Decimal] = mapped_column(Litres)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (Index("ix_leak_feedback_pending", "applied_at"),)


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


def upgrade_alerts(engine: Engine) -> None:
    """Let alerts.account_id be NULL in a database made before alerts for the utility alone existed.

    PostgreSQL drops the constraint in place; SQLite cannot, so the table is rebuilt (same rows, same
    ids) with foreign keys off for the copy, as SQLite's documentation prescribes for schema changes.
    """
    insp = inspect(engine)
    if "alerts" not in insp.get_table_names():
        return
    col = next((c for c in insp.get_columns("alerts") if c["name"] == "account_id"), None)
    if col is None or col["nullable"]:
        return
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE alerts ALTER COLUMN account_id DROP NOT NULL")
        return
    table = Base.metadata.tables["alerts"]
    names = ", ".join(c["name"] for c in insp.get_columns("alerts") if c["name"] in table.columns)
    ddl = str(CreateTable(table).compile(engine)).replace("CREATE TABLE alerts", "CREATE TABLE alerts_new", 1)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("BEGIN")
        cur.execute(ddl)
        cur.execute(f"INSERT INTO alerts_new ({names}) SELECT {names} FROM alerts")
        cur.execute("DROP TABLE alerts")
        cur.execute("ALTER TABLE alerts_new RENAME TO alerts")
        cur.execute("COMMIT")
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()
    for index in table.indexes:
        index.create(engine, checkfirst=True)


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
        """Create billing's missing tables (idempotent); a file from before utility alerts is upgraded."""
        upgrade_alerts(self.engine)
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
    "AuditEvent",


    "AutopaySetting",
    "Base",
    "BindingRequest",
    "Database",
    "Delegation",
    "HolderContact",
    "LeakFeedback",
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
