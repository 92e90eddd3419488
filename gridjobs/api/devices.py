"""/v1/devices: the device registry."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from pydantic import Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, query_limit, read_json
from gridjobs.api.schemas import MAX_DEVICES_PER_BATCH, DeviceFields, DeviceIn, DeviceOut
from gridjobs.validation import validate
from gridjobs.errors import ValidationFailed
from gridjobs.store import devices as store

DeviceBatch = TypeAdapter(Annotated[list[DeviceIn], Field(min_length=1, max_length=MAX_DEVICES_PER_BATCH)])


def _pool(request: Request):
    return request.app.state.runtime.pool


async def put_one(request: Request) -> Response:
    body = await read_json(request)
    device_id = request.path_params["id"]
    if isinstance(body, dict) and body.get("id", device_id) != device_id:
        raise ValidationFailed("body id does not match the id in the path",
                               extra={"errors": [{"field": "id", "message": "must match the path"}]})
    fields = validate(DeviceFields, {k: v for k, v in body.items() if k != "id"}
                      if isinstance(body, dict) else body)
    device = validate(DeviceIn, {**fields.model_dump(), "id": device_id})
    _check_profiles(request, [device], prefix="")
    [saved] = await store.upsert_devices(_pool(request), [device.to_record()])
    return JSONResponse(DeviceOut.of(saved))


async def post_batch(request: Request) -> Response:
    devices = validate(DeviceBatch, await read_json(request))
    ids = [d.id for d in devices]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)[:10]
        raise ValidationFailed(f"duplicate device ids in batch: {', '.join(dupes)}",
                               extra={"errors": [{"field": "id", "message": "duplicate"}]})
    _check_profiles(request, devices, prefix="{index}.")
    saved = await store.upsert_devices(_pool(request), [d.to_record() for d in devices])
    return JSONResponse({"upserted": len(saved)})


def _check_profiles(request: Request, devices: list[DeviceIn], *, prefix: str) -> None:
    """Every device names a profile that is shipped or in the profiles directory."""
    catalog = request.app.state.runtime.profiles
    errors = [{"field": prefix.format(index=i) + "profile",
               "message": f"unknown device profile {d.profile!r}"}
              for i, d in enumerate(devices) if not catalog.exists(d.profile)]
    if errors:
        shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(f"invalid request: {shown}", extra={"errors": errors})


async def get_one(request: Request) -> Response:
    return JSONResponse(DeviceOut.of(await store.get_device(_pool(request), request.path_params["id"])))


async def list_all(request: Request) -> Response:
    limit = query_limit(request)
    cursor = decode_cursor(request)
    after = cursor[0] if cursor else None
    if cursor and not isinstance(after, str):
        raise ValidationFailed("query parameter 'cursor' is not a cursor returned by this API",
                               extra={"errors": [{"field": "cursor", "message": "invalid"}]})
    found = await store.list_devices(
        _pool(request), feeder=request.query_params.get("feeder"),
        profile=request.query_params.get("profile"), after=after, limit=limit,
    )
    next_cursor = encode_cursor([found[-1].id]) if len(found) == limit else None
    return JSONResponse({"items": [DeviceOut.of(d) for d in found], "next_cursor": next_cursor})
