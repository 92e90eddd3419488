"""Turning request parts into validated values; every failure is a GridjobsError."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID

from starlette.requests import Request

from gridjobs.errors import BadRequest, NotFound, ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


async def read_json(request: Request) -> Any:
    body = await request.body()
    if not body:
        raise BadRequest("request body is empty; expected JSON")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc


def path_uuid(request: Request, name: str = "id") -> UUID:
    raw = request.path_params[name]
    try:
        value = UUID(raw)
    except ValueError as exc:
        raise NotFound(f"operation {raw!r} does not exist (ids are UUIDs)") from exc
    return value


def query_limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise _query_error("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def query_choice(request: Request, name: str, choices: frozenset[str] | None = None) -> str | None:
    value = request.query_params.get(name)
    if value is not None and choices is not None and value not in choices:
        raise _query_error(name, f"must be one of {', '.join(sorted(choices))}")
    return value


def query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise _query_error(name, "must be true or false")
    return raw in ("true", "1")


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(request: Request) -> list[Any] | None:
    raw = request.query_params.get("cursor")
    if raw is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _query_error("cursor", "is not a cursor returned by this API") from exc
    if not isinstance(values, list):
        raise _query_error("cursor", "is not a cursor returned by this API")
    return values


def _query_error(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"query parameter {name!r} {message}",
                            extra={"errors": [{"field": name, "message": message}]})
