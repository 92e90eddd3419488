"""The states a device's firmware reports in ``fw_state`` (see the ``rtu`` profile)."""

from __future__ import annotations

import enum


class FirmwareState(enum.IntEnum):
    IDLE = 0
    STAGING = 1  # an image is being written into the inactive bank
    PENDING_CONFIRM = 2  # booted into the new image; rolls back unless confirmed
    CONFIRMED = 3
    ROLLED_BACK = 4  # the new image failed or was not confirmed: the old one runs


# Nothing of an update is in progress on the device.
IDLE_STATES = frozenset({FirmwareState.IDLE, FirmwareState.CONFIRMED})
