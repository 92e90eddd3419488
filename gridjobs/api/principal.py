"""The principal the authentication middleware found, and what its area lets it see."""

from __future__ import annotations

from typing import Iterable, TypeVar

from starlette.requests import Request

from gridjobs.access.roles import Principal
from gridjobs.errors import NotFound, Unauthorized

T = TypeVar("T")


def principal_of(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # the middleware lets no protected route through without one
        raise Unauthorized("no identity on this request")
    return principal


def visible(request: Request, item: T, feeders: Iterable[str], missing: str) -> T:
    """`item` if its feeders lie in the principal's area; else as if it did not exist."""
    if not principal_of(request).covers(set(feeders)):
        raise NotFound(missing)
    return item
