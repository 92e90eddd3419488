"""/v1/firmware: firmware images, uploaded as a byte stream and stored in chunks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, path_uuid, query
from gridjobs.api.queries import NEWEST_FIRST, FirmwareListQuery
from gridjobs.api.schemas import FirmwareOut, FirmwareQuery
from adapters import FIRMWARE_ROLES
from gridjobs.errors import GridjobsError, ValidationFailed, quoted
from gridjobs.firmware import artifacts as store
from gridjobs.profiles import ProfileCatalog

IMAGE_MEDIA_TYPE = "application/octet-stream"


class UnsupportedMediaType(GridjobsError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


async def upload(request: Request) -> Response:
    _require_image(request)
    q = query(request, FirmwareQuery)
    runtime = request.app.state.runtime
    _check_profile(runtime.profiles, q.profile)
    stored = await store.store_artifact(runtime.pool, request.stream(), version=q.version,
                                        profile=q.profile,
                                        max_bytes=runtime.settings.firmware_max_bytes)
    location = f"/v1/firmware/{stored.artifact.id}"
    return JSONResponse(FirmwareOut.of(stored.artifact), status_code=201 if stored.created else 200,
                        headers={"Location": location, "Content-Location": location})


async def get_one(request: Request) -> Response:
    artifact = await store.get_artifact(request.app.state.runtime.pool,
                                        path_uuid(request, what="firmware artifact"))
    return JSONResponse(FirmwareOut.of(artifact))


async def list_all(request: Request) -> Response:
    q = query(request, FirmwareListQuery)
    found = await store.list_artifacts(request.app.state.runtime.pool, profile=q.profile,
                                       before=decode_cursor(q.cursor, NEWEST_FIRST), limit=q.limit)
    last = found[-1] if len(found) == q.limit else None
    next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)]) if last else None
    return JSONResponse({"items": [FirmwareOut.of(a) for a in found], "next_cursor": next_cursor})


def _require_image(request: Request) -> None:
    given = request.headers.get("content-type", "")
    if given.split(";")[0].strip().lower() != IMAGE_MEDIA_TYPE:
        shown = quoted(given) if given else "no content type"
        raise UnsupportedMediaType(f"a firmware image is sent as {IMAGE_MEDIA_TYPE}, not {shown}")


def _check_profile(catalog: ProfileCatalog, name: str) -> None:
    if not catalog.exists(name):
        raise _profile_error(f"unknown device profile {quoted(name)}")
    missing = FIRMWARE_ROLES - (catalog.roles(name) or frozenset())
    if missing:
        raise _profile_error(f"device profile {quoted(name)} does not support firmware updates: "
                             f"it lacks the roles {', '.join(sorted(missing))}")


def _profile_error(message: str) -> ValidationFailed:
    return ValidationFailed(f"invalid request: profile: {message}",
                            extra={"errors": [{"field": "profile", "message": message}]})

