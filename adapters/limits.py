"""Modbus protocol limits, checked before a request leaves the process."""

from __future__ import annotations

from collections.abc import Sequence

MAX_UNIT_ID = 255
MAX_ADDRESS = 0xFFFF
MAX_READ_REGISTERS = 125
MAX_WRITE_REGISTERS = 123
MAX_WORD = 0xFFFF


def check_unit_id(unit_id: int) -> None:
    if isinstance(unit_id, bool) or not isinstance(unit_id, int) or not 0 <= unit_id <= MAX_UNIT_ID:
        raise ValueError(f"unit_id must be an int in 0..{MAX_UNIT_ID}, got {unit_id!r}")


def check_read(*, address: int, count: int) -> None:
    _check_range(address=address, count=count, most=MAX_READ_REGISTERS)


def check_write(*, address: int, values: Sequence[int]) -> None:
    _check_range(address=address, count=len(values), most=MAX_WRITE_REGISTERS)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WORD:
            raise ValueError(f"register value must be an int in 0..{MAX_WORD}, got {value!r}")


def _check_range(*, address: int, count: int, most: int) -> None:
    if isinstance(address, bool) or not isinstance(address, int) or not 0 <= address <= MAX_ADDRESS:
        raise ValueError(f"address must be an int in 0..{MAX_ADDRESS}, got {address!r}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most:
        raise ValueError(f"register count must be an int in 1..{most}, got {count!r}")
    if address + count - 1 > MAX_ADDRESS:
        raise ValueError(f"registers {address}..{address + count - 1} run past {MAX_ADDRESS}")
