"""The one authorization table: route (and operation kind) → the roles that may.

Every check in gridjobs asks this module; handlers hold no role logic. A
principal needs any one of a rule's roles. Areas of responsibility are checked
where the feeders are known (intake, lists, reads), with `Principal.outside`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gridjobs.access.roles import AccessRole, Principal
from gridjobs.errors import Forbidden

VIEWER, OPERATOR, ENGINEER = AccessRole.VIEWER, AccessRole.OPERATOR, AccessRole.ENGINEER
INSTALLER, SECADM, SECAUD = AccessRole.INSTALLER, AccessRole.SECADM, AccessRole.SECAUD
READERS = frozenset({VIEWER, OPERATOR, ENGINEER, INSTALLER})   # "what a viewer may"
OPERATION_READERS = READERS | {SECADM}     # secadm follows the rotations it submits
ANYONE = frozenset(AccessRole)             # any valid identity


class Action(StrEnum):
    SUBMIT = "submit"   # also the dry run of a submission
    CANCEL = "cancel"
    RESUME = "resume"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[AccessRole] = frozenset()
    public: bool = False          # no identity needed
    by_kind: Action | None = None  # the roles depend on the operation's kind (KINDS)
    session: bool = False         # a page route: the identity comes from the sign-in cookie


PUBLIC = Rule(public=True)
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): Rule(ANYONE),
    ("GET", "/metrics"): Rule(READERS),       # or the scrape token (identity.py)
    ("POST", "/v1/operations"): Rule(by_kind=Action.SUBMIT),
    ("GET", "/v1/operations"): Rule(OPERATION_READERS),
    ("GET", "/v1/operations/{id}"): Rule(OPERATION_READERS),
    ("GET", "/v1/operations/{id}/devices"): Rule(OPERATION_READERS),
    ("POST", "/v1/operations/{id}/cancel"): Rule(by_kind=Action.CANCEL),
    ("POST", "/v1/operations/{id}/resume"): Rule(by_kind=Action.RESUME),
    ("GET", "/v1/operations/{id}/events"): Rule(OPERATION_READERS),
    ("GET", "/v1/events"): Rule(OPERATION_READERS),
    # Webhooks: whoever may read operations may push them to itself. Each principal
    # manages only its own endpoints, which reach no further than its area.
    ("POST", "/v1/webhooks"): Rule(OPERATION_READERS),
    ("GET", "/v1/webhooks"): Rule(OPERATION_READERS),
    ("GET", "/v1/webhooks/{id}"): Rule(OPERATION_READERS),
    ("DELETE", "/v1/webhooks/{id}"): Rule(OPERATION_READERS),
    ("POST", "/v1/webhooks/{id}/rotate-secret"): Rule(OPERATION_READERS),
    ("GET", "/v1/webhooks/{id}/deliveries"): Rule(OPERATION_READERS),
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/retry"): Rule(OPERATION_READERS),
    ("POST", "/v1/devices"): Rule(frozenset({INSTALLER})),
    ("GET", "/v1/devices"): Rule(READERS),
    ("PUT", "/v1/devices/{id}"): Rule(frozenset({INSTALLER})),
    ("GET", "/v1/devices/{id}"): Rule(READERS),
    ("POST", "/v1/firmware"): Rule(frozenset({ENGINEER})),
    ("GET", "/v1/firmware"): Rule(READERS),
    ("GET", "/v1/firmware/{id}"): Rule(READERS),
    ("GET", "/v1/audit"): Rule(frozenset({SECAUD, SECADM})),
    ("GET", "/v1/audit/requests"): Rule(frozenset({SECAUD, SECADM})),
    ("POST", "/v1/tokens"): Rule(frozenset({SECADM})),
    ("GET", "/v1/tokens"): Rule(frozenset({SECADM})),
    ("DELETE", "/v1/tokens/{name}"): Rule(frozenset({SECADM})),
}
# The control-room page (gridjobs/web): the same roles as the API it shows. A page route
# takes its identity from the session cookie of the sign-in, not from a bearer header.
PAGE = Rule(OPERATION_READERS, session=True)
PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/signin"): PUBLIC,
    ("POST", "/signin"): PUBLIC,          # checks the token it is given, and a CSRF cookie
    ("POST", "/signout"): Rule(ANYONE, session=True),
    ("GET", "/static"): PUBLIC,           # the page's own scripts and styles
    ("GET", "/docs/assets"): PUBLIC,      # Swagger UI's
    ("GET", "/problems"): PUBLIC,
    ("GET", "/problems/{code}"): PUBLIC,
    ("GET", "/docs"): Rule(ANYONE, session=True),   # as /openapi.json
    ("GET", "/"): PAGE,
    ("GET", "/live"): PAGE,
    ("GET", "/operations/{id}"): PAGE,
    ("GET", "/operations/{id}/live"): PAGE,
    ("POST", "/operations/{id}/cancel"): Rule(by_kind=Action.CANCEL, session=True),
    ("POST", "/operations/{id}/resume"): Rule(by_kind=Action.RESUME, session=True),
    ("GET", "/feeders/{feeder}"): PAGE,
    ("GET", "/devices"): Rule(READERS, session=True),
    ("GET", "/devices/{id}"): Rule(READERS, session=True),
}
KINDS: dict[tuple[Action, str], frozenset[AccessRole]] = {
    (Action.SUBMIT, "load_shed"): frozenset({OPERATOR}),
    (Action.CANCEL, "load_shed"): frozenset({OPERATOR}),
    (Action.SUBMIT, "der_curtailment"): frozenset({OPERATOR}),
    (Action.CANCEL, "der_curtailment"): frozenset({OPERATOR}),
    (Action.SUBMIT, "firmware_rollout"): frozenset({ENGINEER}),
    (Action.CANCEL, "firmware_rollout"): frozenset({ENGINEER}),
    (Action.RESUME, "firmware_rollout"): frozenset({ENGINEER}),
    (Action.SUBMIT, "key_rotation"): frozenset({SECADM}),
    (Action.CANCEL, "key_rotation"): frozenset({SECADM}),
    (Action.RESUME, "key_rotation"): frozenset({SECADM}),
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route template; None for a route the table does not know (refused)."""
    key = (method.upper(), path)
    return ROUTES.get(key) or PAGES.get(key)


def require(principal: Principal, roles: frozenset[AccessRole], what: str) -> None:
    if not roles & principal.roles:
        raise Forbidden(f"{what} needs the role {_names(roles)}; {principal.name!r} has "
                        f"{_names(principal.roles) or 'no role'}",
                        extra={"missing_roles": sorted(roles)})


def require_route(principal: Principal, method: str, path: str) -> Rule:
    rule = rule_for(method, path)
    if rule is None:
        raise Forbidden(f"{method} {path} is not open to any role")
    if not rule.public and rule.by_kind is None:
        require(principal, rule.roles, f"{method} {path}")
    return rule


def require_kind(principal: Principal, action: Action, kind: str) -> None:
    roles = KINDS.get((action, kind))
    if roles is None:
        raise Forbidden(f"no role may {action} a {kind!r} operation")
    require(principal, roles, f"to {action} a {kind} operation")


def require_area(principal: Principal, feeders: set[str] | frozenset[str], what: str) -> None:
    outside = principal.outside(feeders)
    if outside:
        shown = ", ".join(outside[:10]) + (" …" if len(outside) > 10 else "")
        raise Forbidden(f"{what} reaches feeders outside the area of {principal.name!r}: {shown}",
                        extra={"feeders_outside_area": outside[:100]})


def _names(roles: frozenset[AccessRole] | set[AccessRole]) -> str:
    return " or ".join(sorted(roles))
