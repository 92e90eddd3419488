"""The authorization table, row by row, and the token format."""

from __future__ import annotations

import pytest

from gridjobs.access import tokens
from gridjobs.access.policy import ROUTES, Action, require_area, require_kind, require_route
from gridjobs.access.roles import AccessRole, Principal
from gridjobs.api.app import ROUTES as APP_ROUTES
from gridjobs.errors import Forbidden

R = AccessRole
READ = {R.VIEWER, R.OPERATOR, R.ENGINEER, R.INSTALLER}
# Who may use each route (the issue's table); None: public.
EXPECTED = {
    ("GET", "/healthz"): None, ("GET", "/readyz"): None,
    ("GET", "/openapi.json"): set(R),
    ("GET", "/metrics"): READ,
    ("GET", "/v1/operations"): READ | {R.SECADM},
    ("GET", "/v1/operations/{id}"): READ | {R.SECADM},
    ("GET", "/v1/operations/{id}/devices"): READ | {R.SECADM},
    ("POST", "/v1/devices"): {R.INSTALLER}, ("PUT", "/v1/devices/{id}"): {R.INSTALLER},
    ("GET", "/v1/devices"): READ, ("GET", "/v1/devices/{id}"): READ,
    ("POST", "/v1/firmware"): {R.ENGINEER},
    ("GET", "/v1/firmware"): READ, ("GET", "/v1/firmware/{id}"): READ,
    ("GET", "/v1/audit"): {R.SECAUD, R.SECADM}, ("GET", "/v1/audit/requests"): {R.SECAUD, R.SECADM},
    ("POST", "/v1/tokens"): {R.SECADM}, ("GET", "/v1/tokens"): {R.SECADM},
    ("DELETE", "/v1/tokens/{name}"): {R.SECADM},
    ("GET", "/v1/operations/{id}/events"): READ | {R.SECADM}, ("GET", "/v1/events"): READ | {R.SECADM},
    ("POST", "/v1/webhooks"): READ | {R.SECADM}, ("GET", "/v1/webhooks"): READ | {R.SECADM},
    ("GET", "/v1/webhooks/{id}"): READ | {R.SECADM}, ("DELETE", "/v1/webhooks/{id}"): READ | {R.SECADM},
    ("POST", "/v1/webhooks/{id}/rotate-secret"): READ | {R.SECADM},
    ("GET", "/v1/webhooks/{id}/deliveries"): READ | {R.SECADM},
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/retry"): READ | {R.SECADM},
}
BY_KIND = {("POST", "/v1/operations"): Action.SUBMIT, ("POST", "/v1/operations/{id}/cancel"): Action.CANCEL,
           ("POST", "/v1/operations/{id}/resume"): Action.RESUME}
KIND_EXPECTED = {
    "load_shed": {Action.SUBMIT: {R.OPERATOR}, Action.CANCEL: {R.OPERATOR}, Action.RESUME: set()},
    "der_curtailment": {Action.SUBMIT: {R.OPERATOR}, Action.CANCEL: {R.OPERATOR}, Action.RESUME: set()},
    "firmware_rollout": {a: {R.ENGINEER} for a in Action},
    "key_rotation": {a: {R.SECADM} for a in Action},
}


def who(*roles: AccessRole, feeders=None) -> Principal:
    return Principal("p", "token", frozenset(roles), feeders)


@pytest.mark.parametrize("route", sorted(EXPECTED))
@pytest.mark.parametrize("role", list(R))
def test_every_route_for_every_role(route, role):
    allowed = EXPECTED[route]
    if allowed is None or role in allowed:
        require_route(who(role), *route)
    else:
        with pytest.raises(Forbidden, match="needs the role"):
            require_route(who(role), *route)


@pytest.mark.parametrize("kind", sorted(KIND_EXPECTED))
@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(R))
def test_every_kind_and_action_for_every_role(kind, action, role):
    if role in KIND_EXPECTED[kind][action]:
        require_kind(who(role), action, kind)
    else:
        with pytest.raises(Forbidden):
            require_kind(who(role), action, kind)


def test_the_table_covers_exactly_the_app_routes():
    app = {(m, r.path) for r in APP_ROUTES for m in r.methods if m not in ("HEAD", "OPTIONS")}
    assert app <= set(ROUTES), f"routes without a rule: {sorted(app - set(ROUTES))}"
    assert set(EXPECTED) | set(BY_KIND) == set(ROUTES)
    assert all(ROUTES[route].by_kind == action for route, action in BY_KIND.items())


def test_a_principal_holds_several_roles():
    require_route(who(R.VIEWER, R.SECAUD), "GET", "/v1/audit")
    require_route(who(R.VIEWER, R.SECAUD), "GET", "/v1/devices")


def test_areas_name_the_feeders_outside():
    require_area(who(R.OPERATOR, feeders=None), {"F1", "F9"}, "the scope")
    require_area(who(R.OPERATOR, feeders=frozenset({"F1", "F2"})), {"F1"}, "the scope")
    with pytest.raises(Forbidden, match="F3, F9") as caught:
        require_area(who(R.OPERATOR, feeders=frozenset({"F1"})), {"F1", "F3", "F9"}, "the scope")
    assert caught.value.extra["feeders_outside_area"] == ["F3", "F9"]


def test_tokens_are_long_random_prefixed_and_checked_in_constant_time():
    issued = tokens.issue()
    assert issued.token.startswith("gjt_") and issued.token not in repr(issued)
    token_id, secret = tokens.parse(issued.token)
    assert token_id == issued.id and len(secret) >= 43  # 256 bits, base64url
    assert tokens.matches(secret, issued.secret_sha256)
    assert not tokens.matches(secret + "x", issued.secret_sha256)
    assert not tokens.matches(secret, None)  # an unknown id never matches
    assert tokens.parse("gjt_zz_abc") is None and tokens.parse(issued.token + "x") is None
    assert tokens.issue().token != issued.token
