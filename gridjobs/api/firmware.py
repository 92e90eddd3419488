"""/v1/firmware: firmware images, uploaded as a byte stream and stored in chunks."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, query_limit
from gridjobs.api.schemas import FirmwareOut, FirmwareQuery
from gridjobs.validation import validate
from gridjobs.errors import GridjobsError, NotFound, ValidationFailed
from adapters import FIRMWARE_ROLES
from gridjobs.firmware import artifacts as store
from gridjobs.profiles import ProfileCatalog

IMAGE_MEDIA_TYPE = "application/octet-stream"


class UnsupportedMediaType(GridjobsError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


async def upload(request: Request) -> Response:
    _require_image(request)
    query = validate(FirmwareQuery, dict(request.query_params))
    runtime = request.app.state.runtime
    _check_profile(runtime.profiles, query.profile)
    stored = await store.store_artifact(runtime.pool, request.stream(), version=query.version,
                                        profile=query.profile,
                                        max_bytes=runtime.settings.firmware_max_bytes)
    location = f"/v1/firmware/{stored.artifact.id}"
    return JSONResponse(FirmwareOut.of(stored.artifact), status_code=201 if stored.created else 200,
                        headers={"Location": location, "Content-Location": location})


async def get_one(request: Request) -> Response:
    artifact = await store.get_artifact(request.app.state.runtime.pool, _artifact_id(request))
    return JSONResponse(FirmwareOut.of(artifact))


async def list_all(request: Request) -> Response:
    limit = query_limit(request)
    cursor = decode_cursor(request)
    found = await store.list_artifacts(
        request.app.state.runtime.pool, profile=request.query_params.get("profile"),
        before=_before(cursor) if cursor else None, limit=limit,
    )
    last = found[-1] if len(found) == limit else None
    next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)]) if last else None
    return JSONResponse({"items": [FirmwareOut.of(a) for a in found], "next_cursor": next_cursor})


def _require_image(request: Request) -> None:
    given = request.headers.get("content-type", "")
    if given.split(";")[0].strip().lower() != IMAGE_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"a firmware image is sent as {IMAGE_MEDIA_TYPE}, not {given or 'no content type'!r}")


def _check_profile(catalog: ProfileCatalog, name: str) -> None:
    if not catalog.exists(name):
        raise _profile_error(f"unknown device profile {name!r}")
    missing = FIRMWARE_ROLES - (catalog.roles(name) or frozenset())
    if missing:
        raise _profile_error(f"device profile {name!r} does not support firmware updates: "
                             f"it lacks the roles {', '.join(sorted(missing))}")


def _profile_error(message: str) -> ValidationFailed:
    return ValidationFailed(f"invalid request: profile: {message}",
                            extra={"errors": [{"field": "profile", "message": message}]})


def _artifact_id(request: Request) -> UUID:
    raw = request.path_params["id"]
    try:
        return UUID(raw)
    except ValueError as exc:
        raise NotFound(f"firmware artifact {raw!r} does not exist (ids are UUIDs)") from exc


def _before(cursor: list) -> tuple[datetime, UUID]:
    try:
        return datetime.fromisoformat(cursor[0]), UUID(cursor[1])
    except (ValueError, IndexError, TypeError) as exc:
        raise ValidationFailed("query parameter 'cursor' is not a cursor returned by this API",
                               extra={"errors": [{"field": "cursor", "message": "invalid"}]}) from exc
