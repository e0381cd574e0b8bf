"""Shared dependencies as Annotated aliases: settings, store, flows, databases, services and callers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from billing.access import Right, authorize
from billing.db import Account, Database
from billing.hashing import VerifyKey
from billing.sms import SmsGateway
from billing.verification import Policy
from dashboard_api.auth import AnyCaller, Principal, UtilityCaller
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.directory import Directory
from storage.readings.base import Store
from storage.readings.conn import InfluxConnection
from storage.readings.flows import FlowSource
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.service import VeeService

# Dependencies that only read app.state are `async def`: FastAPI runs a plain `def` dependency in
# its thread pool, and each such hop cost milliseconds per request on a busy machine.


async def get_store(request: Request) -> Store:
    """The readings store."""
    return request.app.state.store


async def get_directory(request: Request) -> Directory:
    """Who owns which meters."""
    return request.app.state.directory


async def get_flows(request: Request) -> FlowSource:
    """Usage grids and flows for many meters."""
    return request.app.state.flows


async def get_influx(request: Request) -> InfluxConnection | None:
    """The InfluxDB connection, or None on other stores."""
    return request.app.state.influx


async def get_database(request: Request) -> Database:
    """The utility's SQL database (accounts, ledger, VEE edits)."""
    return request.app.state.database


def billing_tx(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on any error."""
    with request.app.state.database.session() as session:
        yield session


async def get_clock(request: Request) -> Callable[[], datetime]:
    """The wall clock (tests install a virtual one as app.state.billing_clock)."""
    return getattr(request.app.state, "billing_clock", None) or (lambda: datetime.now(UTC))


async def get_vee(request: Request) -> VeeService:
    """The VEE service over the app's store and database."""
    db: VeeDb = request.app.state.vee_db
    cfg: VeeConfig = request.app.state.vee_config
    return VeeService(request.app.state.store, db, cfg)


async def get_verify_key(request: Request) -> VerifyKey:
    """The verification key (loaded, or created in its file, on first use)."""
    state = request.app.state
    key = getattr(state, "verify_key", None)
    if key is None:
        settings: ApiSettings = state.settings
        key = state.verify_key = VerifyKey(settings.verify_key_bytes())
    return key


async def get_sms(request: Request) -> SmsGateway:
    """The SMS gateway (the development sink: docs/security.md)."""
    return request.app.state.sms


async def get_verify_policy(request: Request) -> Policy:
    """Code lifetime, tries and lock-out limits of verified binding."""
    return request.app.state.verify_policy


def origin_of(request: Request) -> str:
    """Where a request came from, for the audit log (the client address uvicorn saw)."""
    return request.client.host if request.client else ""


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
DirectoryDep = Annotated[Directory, Depends(get_directory)]
FlowsDep = Annotated[FlowSource, Depends(get_flows)]
InfluxDep = Annotated[InfluxConnection | None, Depends(get_influx)]
BillingTx = Annotated[Session, Depends(billing_tx, scope="function")]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
VeeDep = Annotated[VeeService, Depends(get_vee)]
DatabaseDep = Annotated[Database, Depends(get_database)]
VerifyKeyDep = Annotated[VerifyKey, Depends(get_verify_key)]
SmsDep = Annotated[SmsGateway, Depends(get_sms)]
PolicyDep = Annotated[Policy, Depends(get_verify_policy)]


def check_meter_visible(
    caller: Principal, directory: Directory, meter_id: str, need: Right = Right.VIEW
) -> None:
    """NotFound (404) unless the caller has `need` on the meter's account (billing.access.authorize).

    404 rather than 403, so a resident cannot probe which meter ids exist.
    """
    directory.authorize(caller.who, meter_id=meter_id, need=need)


def authorized_account(
    session: Session, caller: Principal, account_id: int, need: Right = Right.VIEW
) -> Account:
    """The account if the caller has `need` on it: NotFound (404) or Denied (403) otherwise."""
    account = authorize(session, caller.who, account_id=account_id, need=need)
    assert account is not None  # accounts (unlike meters) always resolve or raise
    return account


Caller = UtilityCaller  # routes that only operators may use
__all__ = [
    "AnyCaller",
    "BillingTx",
    "Caller",
    "ClockDep",
    "DatabaseDep",
    "DirectoryDep",
    "FlowsDep",
    "PolicyDep",
    "SmsDep",
    "VerifyKeyDep",
    "InfluxDep",
    "SettingsDep",
    "StoreDep",
    "UtilityCaller",
    "VeeDep",
    "authorized_account",
    "check_meter_visible",
    "get_store",
]
