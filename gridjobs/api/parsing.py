"""Turning request parts into validated values; every failure is a GridjobsError.

`read_json` is the one way a JSON body comes in, `query` the one way a query
string does, `decode_cursor` the one way a cursor does.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from gridjobs.api import strict_json
from gridjobs.errors import BadRequest, NotFound, ValidationFailed, quoted
from gridjobs.validation import validate

M = TypeVar("M", bound=BaseModel)
NOT_A_CURSOR = "is not a cursor returned by this API"


async def read_json(request: Request) -> Any:
    body = await request.body()
    if not body:
        raise BadRequest("request body is empty; expected JSON")
    return strict_json.loads(body)


def query(request: Request, model: type[M]) -> M:
    """The query string as `model`; a parameter given twice is refused, not guessed at."""
    if not request.scope.get("query_string"):   # most requests: nothing to parse
        return validate(model, {}, what="query")
    items = request.query_params.multi_items()
    repeated = sorted(name for name, n in Counter(name for name, _ in items).items() if n > 1)
    if repeated:
        raise BadRequest(f"query parameter {quoted(repeated[0])} is given more than once")
    return validate(model, dict(items), what="query")


def path_uuid(request: Request, name: str = "id", *, what: str = "operation") -> UUID:
    raw = request.path_params[name]
    try:
        return UUID(raw)
    except ValueError as exc:
        raise NotFound(f"{what} {quoted(raw)} does not exist (ids are UUIDs)") from exc


def path_value(request: Request, shape: TypeAdapter, *, what: str, rule: str) -> Any:
    """A path id that does not have the shape of one names nothing: 404."""
    raw = request.path_params["id"]
    try:
        return shape.validate_python(raw)
    except ValidationError as exc:
        raise NotFound(f"{what} {quoted(raw)} does not exist ({rule})") from exc


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: TypeAdapter) -> Any:
    """The values a cursor from `encode_cursor` holds, checked against `shape`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return shape.validate_python(strict_json.loads(raw, what="cursor"))
    except (ValueError, BadRequest) as exc:  # binascii.Error and ValidationError are ValueErrors
        raise ValidationFailed(f"query parameter 'cursor' {NOT_A_CURSOR}",
                               extra={"errors": [{"field": "cursor", "message": NOT_A_CURSOR}]}) from exc
