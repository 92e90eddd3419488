"""What a simulated device applied, write by write: the truth a test compares a client's view with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

WRITE_LOG_LIMIT = 4096  # records kept per device; older ones are dropped


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteRecord:
    """One write request a device applied (a refused one is not recorded).

    ``at`` is the device's monotonic clock, ``address`` the request's first
    register, ``roles`` the roles it touched in address order and ``values``
    their values in engineering units (read-only).
    """

    at: float
    address: int
    roles: tuple[str, ...]
    values: Mapping[str, object]


WriteListener = Callable[[str, WriteRecord], None]  # (device id, the write it just applied)
