"""SunSpec discovery: walk a device's model chain from the "SunS" marker to the end model."""

from __future__ import annotations

from .errors import DeviceFault, FaultCode
from .limits import MAX_ADDRESS
from .profile import Profile
from .session import GatewaySession
from .sunspec_layout import ModelHeader, first_instances, missing_models, resolve
from .sunspec_models import END_MODEL_ID, HEADER_REGISTERS, MARKER_WORDS

MAX_MODELS = 64  # a chain longer than this is treated as broken, not walked forever
ILLEGAL_DATA_ADDRESS = 2  # Modbus exception: nothing is mapped at that address


async def discover_layout(session: GatewaySession, *, unit_id: int, profile: Profile) -> Profile:
    """Walk the chain (one request per model) and resolve ``profile`` against it."""
    headers = await read_model_chain(session, unit_id=unit_id, base_address=profile.sunspec.base_address)
    if problems := missing_models(profile, headers):
        found = [header.id for header in headers]
        raise _mismatch(session, unit_id, f"profile {profile.name!r}: {'; '.join(problems)} (device has {found})")
    return resolve(profile, models=first_instances(headers))


async def read_model_chain(session: GatewaySession, *, unit_id: int, base_address: int) -> tuple[ModelHeader, ...]:
    await _check_marker(session, unit_id=unit_id, address=base_address)
    headers: list[ModelHeader] = []
    address = base_address + len(MARKER_WORDS)
    for _ in range(MAX_MODELS):
        model_id, length = await _header(session, unit_id=unit_id, address=address)
        if model_id == END_MODEL_ID:
            return tuple(headers)
        headers.append(ModelHeader(model_id, address, length))
        address += HEADER_REGISTERS + length
        if address + HEADER_REGISTERS - 1 > MAX_ADDRESS:
            raise _mismatch(session, unit_id, f"model {model_id} at {headers[-1].address} runs past the register space")
    raise _mismatch(session, unit_id, f"no end model after {MAX_MODELS} models")


async def _check_marker(session: GatewaySession, *, unit_id: int, address: int) -> None:
    try:
        words = await session.read_registers(unit_id=unit_id, address=address, count=len(MARKER_WORDS))
    except DeviceFault as fault:
        # ILLEGAL DATA ADDRESS: nothing is mapped there. Any other fault is the device's.
        if fault.exception_code != ILLEGAL_DATA_ADDRESS:
            raise
        raise _mismatch(session, unit_id, f"no SunSpec map at {address}: {fault.detail}") from fault
    if words != MARKER_WORDS:
        shown = " ".join(f"{word:04x}" for word in words)
        raise _mismatch(session, unit_id, f"no 'SunS' marker at {address} (read {shown})")


async def _header(session: GatewaySession, *, unit_id: int, address: int) -> tuple[int, int]:
    """ID and L; some devices answer the end model's ID but not an L after it."""
    try:
        model_id, length = await session.read_registers(unit_id=unit_id, address=address, count=HEADER_REGISTERS)
    except DeviceFault as fault:
        if fault.code is not FaultCode.MODBUS_EXCEPTION:
            raise
        (model_id,) = await session.read_registers(unit_id=unit_id, address=address, count=1)
        if model_id != END_MODEL_ID:
            raise
        return model_id, 0
    return model_id, length


def _mismatch(session: GatewaySession, unit_id: int, reason: str) -> DeviceFault:
    return DeviceFault(FaultCode.PROFILE_MISMATCH, f"{session.host}:{session.port} unit {unit_id}: {reason}")
