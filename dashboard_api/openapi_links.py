"""OpenAPI links: which answer feeds which next call (clients and schemathesis' stateful tests use them).

A link names its source operation and answer, the target operation, and where each path parameter of
the target comes from (OpenAPI runtime expressions). `add_links` fails on a link whose operations do not
exist, so a renamed route cannot silently drop its links.
"""

from __future__ import annotations

from typing import Any

Op = tuple[str, str]  # (method, path)
ACCOUNT = "/v1/accounts/{account_id}"
DELEGATION = "/v1/accounts/{account_id}/delegations"
# (source, status, link name, target, parameters)
LINKS: list[tuple[Op, str, str, Op, dict[str, str]]] = [
    *[
        (("POST", "/v1/accounts"), "201", name, target, {"account_id": "$response.body#/id"})
        for name, target in (
            ("GetAccount", ("GET", ACCOUNT)),
            ("PatchAccount", ("PATCH", ACCOUNT)),
            ("GetLedger", ("GET", ACCOUNT + "/ledger")),
            ("GetForecast", ("GET", ACCOUNT + "/forecast")),
            ("GetAccountUsage", ("GET", ACCOUNT + "/usage")),
            ("PostCorrection", ("POST", ACCOUNT + "/corrections")),
        )
    ],
    *[
        (("GET", "/v1/accounts"), "200", name, target, {"account_id": "$response.body#/0/id"})
        for name, target in (
            ("GetFirstAccount", ("GET", ACCOUNT)),
            ("GetFirstLedger", ("GET", ACCOUNT + "/ledger")),
            ("ListDelegations", ("GET", DELEGATION)),
            ("GrantDelegation", ("POST", DELEGATION)),
            ("RenameBinding", ("PATCH", ACCOUNT + "/binding")),
        )
    ],
    (
        ("POST", "/v1/accounts/bindings"),
        "202",
        "VerifyBinding",
        ("POST", "/v1/accounts/bindings/{request_id}/verify"),
        {"request_id": "$response.body#/request_id"},
    ),
    *[
        (
            ("POST", "/v1/accounts/bindings/{request_id}/verify"),
            "201",
            name,
            target,
            {"account_id": "$response.body#/id"},
        )
        for name, target in (
            ("GetBoundAccount", ("GET", ACCOUNT)),
            ("GrantOnBound", ("POST", DELEGATION)),
            ("UnbindBound", ("DELETE", ACCOUNT + "/binding")),
        )
    ],
    (
        ("POST", DELEGATION),
        "201",
        "RevokeDelegation",
        ("DELETE", DELEGATION + "/{delegation_id}"),
        {"account_id": "$response.body#/account_id", "delegation_id": "$response.body#/id"},
    ),
    (
        ("GET", DELEGATION),
        "200",
        "RevokeListedDelegation",
        ("DELETE", DELEGATION + "/{delegation_id}"),
        {"account_id": "$request.path.account_id", "delegation_id": "$response.body#/0/id"},
    ),
    *[
        (
            ("POST", "/v1/meters/{meter_id}/photos"),
            "201",
            name,
            target,
            {"photo_id": "$response.body#/photo_id"},
        )
        for name, target in (
            ("GetPhoto", ("GET", "/v1/photos/{photo_id}")),
            ("ConfirmPhoto", ("POST", "/v1/photos/{photo_id}/confirm")),
            ("RejectPhoto", ("POST", "/v1/photos/{photo_id}/reject")),
        )
    ],
    *[
        (("GET", "/v1/photo-reviews"), "200", name, target, {"photo_id": "$response.body#/0/photo_id"})
        for name, target in (
            ("ConfirmQueued", ("POST", "/v1/photos/{photo_id}/confirm")),
            ("RejectQueued", ("POST", "/v1/photos/{photo_id}/reject")),
        )
    ],
    (
        ("GET", "/v1/alerts"),
        "200",
        "AcknowledgeAlert",
        ("POST", "/v1/alerts/{alert_id}/acknowledge"),
        {"alert_id": "$response.body#/0/id"},
    ),
    (
        ("GET", "/v1/me"),
        "200",
        "MyMeterUsage",
        ("GET", "/v1/meters/{meter_id}/usage"),
        {"meter_id": "$response.body#/meters/0"},
    ),
    (
        ("GET", "/v1/me"),
        "200",
        "MyAccount",
        ("GET", ACCOUNT),
        {"account_id": "$response.body#/accounts/0/account_id"},
    ),
]


def add_links(doc: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with LINKS added to the answers they start from (in place)."""
    paths = doc["paths"]

    def operation(op: Op) -> dict[str, Any]:
        method, path = op
        try:
            return paths[path][method.lower()]
        except KeyError as err:
            raise ValueError(f"OpenAPI link names {method} {path}, which the app does not serve") from err

    for source, status, name, target, parameters in LINKS:
        answer = operation(source).setdefault("responses", {}).setdefault(status, {"description": "OK"})
        answer.setdefault("links", {})[name] = {
            "operationId": operation(target)["operationId"],
            "parameters": parameters,
        }
    return doc
