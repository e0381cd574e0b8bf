"""Usage of an account (all its meters) and of a group of meters (district, building)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from core.errors import Invalid
from dashboard_api.auth import Principal
from dashboard_api.deps import AnyCaller, Caller, DirectoryDep, FlowsDep, SettingsDep, StoreDep
from dashboard_api.directory import Directory
from dashboard_api.routes.common import (
    CSV_RESPONSES,
    UsageQuery,
    csv_response,
    report_fields,
    run_report,
    usage_json,
    usage_query,
)
from dashboard_api.schemas import AccountUsageOut, GroupUsageOut

router = APIRouter(prefix="/v1", tags=["usage"])

Q = Annotated[UsageQuery, Depends(usage_query)]
AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Label = Annotated[str | None, Query(min_length=1, max_length=100)]
ACCOUNT_DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown token"},
    404: {"description": "no such account (or not yours)"},
    422: {"description": "bad query"},
    503: {"description": "store unavailable"},
}
GROUP_DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown token"},
    403: {"description": "utility operators only"},
    422: {"description": "bad query"},
    503: {"description": "store unavailable"},
}
MAX_GROUP_METERS = 500


def _account_meters(caller: Principal, directory: Directory, account_id: int) -> list[str]:
    # 404 for another resident's account as for a missing one: ids cannot be probed.
    directory.authorize(caller.who, account_id=account_id)
    return directory.meters_for_account(account_id)


def _group_meters(directory: Directory, district: str | None, building: str | None) -> list[str]:
    if district is None and building is None:
        raise Invalid("give a district, a building, or both")
    meters = directory.meters_in_group(district, building)
    if len(meters) > MAX_GROUP_METERS:
        raise Invalid(f"{len(meters)} meters; at most {MAX_GROUP_METERS} per group query")
    return meters


@router.get(
    "/accounts/{account_id}/usage",
    response_model=AccountUsageOut,
    responses=ACCOUNT_DENIED,
    summary="Usage of all meters of one account",
)
def account_usage(
    account_id: AccountId,
    caller: AnyCaller,
    q: Q,
    store: StoreDep,
    flows: FlowsDep,
    directory: DirectoryDep,
    settings: SettingsDep,
) -> Response:
    meters = _account_meters(caller, directory, account_id)
    report, zone = run_report(store, flows, meters, q, settings)
    return usage_json(AccountUsageOut, account_id=account_id, meters=meters, **report_fields(report, zone, q))


@router.get(
    "/accounts/{account_id}/usage.csv",
    response_class=Response,
    responses={**CSV_RESPONSES, **ACCOUNT_DENIED},
    summary="The same account usage as CSV",
)
def account_usage_csv(
    account_id: AccountId,
    caller: AnyCaller,
    q: Q,
    store: StoreDep,
    flows: FlowsDep,
    directory: DirectoryDep,
    settings: SettingsDep,
) -> Response:
    meters = _account_meters(caller, directory, account_id)
    report, zone = run_report(store, flows, meters, q, settings)
    return csv_response(report, zone, f"usage-account-{account_id}-{q.every.value}.csv")


@router.get(
    "/groups/usage",
    response_model=GroupUsageOut,
    responses=GROUP_DENIED,
    summary="Usage of the meters in a district and/or building (utility)",
)
def group_usage(
    _caller: Caller,
    q: Q,
    store: StoreDep,
    flows: FlowsDep,
    directory: DirectoryDep,
    settings: SettingsDep,
    district: Label = None,
    building: Label = None,
) -> Response:
    meters = _group_meters(directory, district, building)
    report, zone = run_report(store, flows, meters, q, settings)
    return usage_json(
        GroupUsageOut, district=district, building=building, meters=meters, **report_fields(report, zone, q)
    )


@router.get(
    "/groups/usage.csv",
    response_class=Response,
    responses={**CSV_RESPONSES, **GROUP_DENIED},
    summary="The same group usage as CSV (utility)",
)
def group_usage_csv(
    _caller: Caller,
    q: Q,
    store: StoreDep,
    flows: FlowsDep,
    directory: DirectoryDep,
    settings: SettingsDep,
    district: Label = None,
    building: Label = None,
) -> Response:
    meters = _group_meters(directory, district, building)
    report, zone = run_report(store, flows, meters, q, settings)
    return csv_response(report, zone, f"usage-group-{q.every.value}.csv")
