"""The shipped ``rtu`` profile: a controllable load plus firmware roles, with a one-FC16 chunk window."""

from __future__ import annotations

import pytest

from adapters import load_profile
from adapters.limits import MAX_READ_REGISTERS, MAX_WRITE_REGISTERS
from adapters.spans import contiguous_spans

RTU = load_profile("rtu")
LOAD = load_profile("controllable_load")
FIRMWARE_ROLES = {
    "firmware_version", "fw_active_bank", "fw_state", "fw_image_size", "fw_image_version", "fw_staged_bytes",
    "fw_staged_crc", "fw_chunk_offset", "fw_chunk_len", "fw_chunk_data", "fw_activate", "fw_confirm",
}
WRITABLE = {"fw_image_size", "fw_image_version", "fw_chunk_offset", "fw_chunk_len", "fw_chunk_data",
            "fw_activate", "fw_confirm"}
CHUNK_WINDOW = ("fw_chunk_offset", "fw_chunk_len", "fw_chunk_data")


def test_rtu_has_the_load_roles_of_controllable_load_at_the_same_addresses():
    for role in LOAD.roles:
        assert RTU.point(role) == LOAD.point(role), role
    assert RTU.read_gap == LOAD.read_gap


def test_rtu_has_every_firmware_role_with_the_documented_types():
    assert set(RTU.roles) == set(LOAD.roles) | FIRMWARE_ROLES
    assert {role for role in FIRMWARE_ROLES if RTU.point(role).writable} == WRITABLE
    types = {role: (RTU.point(role).type, RTU.point(role).register_count) for role in FIRMWARE_ROLES}
    assert types["firmware_version"] == types["fw_image_version"] == ("string", 8)
    assert types["fw_chunk_data"] == ("bytes", 120)
    assert types["fw_image_size"] == types["fw_staged_bytes"] == types["fw_staged_crc"] == ("uint32", 2)
    assert dict(RTU.point("fw_active_bank").symbols) == {"A": 0, "B": 1}
    assert dict(RTU.point("fw_state").symbols) == {
        "IDLE": 0, "STAGING": 1, "PENDING_CONFIRM": 2, "CONFIRMED": 3, "ROLLED_BACK": 4}
    assert (RTU.point("fw_chunk_len").minimum, RTU.point("fw_chunk_len").maximum) == (1, 240)


def test_chunk_window_is_one_contiguous_fc16_of_at_most_123_registers():
    window = [RTU.point(role) for role in CHUNK_WINDOW]
    assert all(before.end == after.address for before, after in zip(window, window[1:]))
    (span,) = contiguous_spans(window, max_registers=MAX_WRITE_REGISTERS)
    assert span.count == 123 <= MAX_WRITE_REGISTERS
    assert 2 * RTU.point("fw_chunk_data").register_count == RTU.point("fw_chunk_len").maximum == 240


@pytest.mark.parametrize("roles", [
    ("firmware_version", "fw_active_bank", "fw_state", "fw_staged_bytes", "fw_staged_crc"),
    ("fw_image_size", "fw_image_version"),
])
def test_status_and_declaration_are_each_one_request(roles):
    points = [RTU.point(role) for role in roles]
    assert len(contiguous_spans(points, max_registers=MAX_READ_REGISTERS)) == 1


def test_image_declaration_is_written_in_one_fc16():
    size, version = RTU.point("fw_image_size"), RTU.point("fw_image_version")
    assert size.end == version.address and size.writable and version.writable


def test_description_documents_the_firmware_addresses():
    for role in FIRMWARE_ROLES:
        point = RTU.point(role)
        first = str(point.address) if point.register_count == 1 else f"{point.address}-{point.end - 1}"
        assert first in RTU.description, role
