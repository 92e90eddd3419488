"""/v1/devices: the device registry."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from pydantic import Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.access import policy
from gridjobs.api.parsing import decode_cursor, encode_cursor, path_value, query, read_json
from gridjobs.api.principal import principal_of, visible
from gridjobs.api.queries import BY_DEVICE_ID, DevicesQuery
from gridjobs.api.schemas import (
    DEVICE_ID_PATTERN, MAX_DEVICES_PER_BATCH, DeviceId, DeviceIn, DeviceOut, DeviceUpdate,
)
from gridjobs.errors import ValidationFailed, quoted
from gridjobs.store import devices as store
from gridjobs.validation import validate

DeviceBatch = TypeAdapter(Annotated[list[DeviceIn], Field(min_length=1, max_length=MAX_DEVICES_PER_BATCH)])
PathDeviceId = TypeAdapter(DeviceId)


def _pool(request: Request):
    return request.app.state.runtime.pool


async def put_one(request: Request) -> Response:
    update = validate(DeviceUpdate, await read_json(request))
    device_id = request.path_params["id"]
    if update.id not in (None, device_id):
        raise ValidationFailed("body id does not match the id in the path",
                               extra={"errors": [{"field": "id", "message": "must match the path"}]})
    device = validate(DeviceIn, {**update.model_dump(exclude={"id"}), "id": device_id})
    _check_profiles(request, [device], prefix="")
    await _check_area(request, [device])
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
    await _check_area(request, devices)
    saved = await store.upsert_devices(_pool(request), [d.to_record() for d in devices])
    return JSONResponse({"upserted": len(saved)})


def _check_profiles(request: Request, devices: list[DeviceIn], *, prefix: str) -> None:
    """Every device names a profile that is shipped or in the profiles directory."""
    catalog = request.app.state.runtime.profiles
    errors = [{"field": prefix.format(index=i) + "profile",
               "message": f"unknown device profile {quoted(d.profile)}"}
              for i, d in enumerate(devices) if not catalog.exists(d.profile)]
    if errors:
        shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(f"invalid request: {shown}", extra={"errors": errors})


async def _check_area(request: Request, devices: list[DeviceIn]) -> None:
    """An installer changes devices in its area only: where they are, and where they go."""
    principal = principal_of(request)
    if principal.feeders is None:
        return
    existing = await store.devices_by_ids(_pool(request), [d.id for d in devices])
    policy.require_area(principal, {d.feeder for d in devices} | {d.feeder for d in existing},
                        "these devices")


async def get_one(request: Request) -> Response:
    device_id = path_value(request, PathDeviceId, what="device",
                           rule=f"device ids are 1 to 128 characters matching {DEVICE_ID_PATTERN}")
    device = await store.get_device(_pool(request), device_id)
    return JSONResponse(DeviceOut.of(visible(request, device, [device.feeder],
                                             f"device {quoted(device_id)} does not exist")))


async def list_all(request: Request) -> Response:
    q = query(request, DevicesQuery)
    after = decode_cursor(q.cursor, BY_DEVICE_ID)
    found = await store.list_devices(_pool(request), feeder=q.feeder, profile=q.profile,
                                     after=after[0] if after else None, limit=q.limit,
                                     area=principal_of(request).feeders)
    next_cursor = encode_cursor([found[-1].id]) if len(found) == q.limit else None
    return JSONResponse({"items": [DeviceOut.of(d) for d in found], "next_cursor": next_cursor})
