"""Which route template a request matches, found once per request and kept in its scope."""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import Scope

_KEY = "gridjobs.route"


def route_template(scope: Scope) -> str | None:
    """The path template of the route that fully matches (path and method); None if none does."""
    if _KEY not in scope:
        scope[_KEY] = _match(scope)
    return scope[_KEY]


def _match(scope: Scope) -> str | None:
    for route in scope["app"].router.routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            scope.setdefault("path_params", {}).update(child.get("path_params", {}))
            return getattr(route, "path", None)
    return None
