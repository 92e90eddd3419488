"""A simulated RTU (profile ``rtu``): a controllable load with A/B firmware banks.

The load side is ``SimulatedDevice``. The firmware side stages an image into
the inactive bank chunk by chunk, reboots into it on activation (silent for
``reboot_s``, like an offline device), and rolls back unless the boot is
confirmed within ``confirm_window_s``. Time is lazy, as for the revert timer.
Each write request carries one firmware command (declare, chunk, activate or
confirm); the firmware faults of ``faults`` act here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters import FIRMWARE_ROLES, FirmwareState, Profile, Role
from pymodbus.constants import ExcCodes

from .device import SimulatedDevice
from .device_base import Counters, DeviceBase, Request, Value
from .errors import RejectedWrite, SpecError
from .faults import FIRMWARE_FAULTS, Fault
from .firmware import Bank, Firmware, FirmwareEvent, FirmwareSpec
from .firmware_faults import FirmwareFaults, flip_byte
from .firmware_roles import (
    ACTIVATE, CHUNK_DATA, CHUNK_LEN, CHUNK_OFFSET, COMMANDS, CONFIRM, IMAGE_SIZE, IMAGE_VERSION, is_rtu_profile,
)
from .physics import LoadPhysics
from .spec import DeviceSpec

REBOOTING = Fault.offline()  # what a rebooting device does to every request: nothing
DROPPED = Fault.drop()
ROLLBACK_EVENTS = frozenset({FirmwareEvent.BOOT_FAILED, FirmwareEvent.ROLLED_BACK})
FAULT_EVENTS = frozenset({FirmwareEvent.BOOT_FAILED, FirmwareEvent.BOOT_STUCK})


@dataclass(slots=True)
class RtuCounters(Counters):
    """``Counters`` plus firmware: accepted chunk writes and their bytes (re-sends included), commands done."""

    fw_bytes_received: int = 0
    fw_chunks_received: int = 0
    fw_activations: int = 0
    fw_confirms: int = 0
    fw_rollbacks: int = 0


class SimulatedRtu(SimulatedDevice):
    """Runtime state of one RTU: load physics and firmware banks."""

    FAULT_KINDS = DeviceBase.FAULT_KINDS | FIRMWARE_FAULTS

    def __init__(
        self, *, spec: DeviceSpec, profile: Profile, physics: LoadPhysics, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not is_rtu_profile(profile):
            raise SpecError(f"device {spec.id!r}: profile {profile.name!r} lacks the firmware roles of an RTU")
        super().__init__(spec=spec, profile=profile, physics=physics, clock=clock)
        self.counters = RtuCounters()
        self._firmware = Firmware(spec.firmware or FirmwareSpec())
        self._faults = FirmwareFaults(None)
        self._chunk_address = profile.point(CHUNK_DATA).address

    @property
    def firmware_version(self) -> str:
        self._settle_firmware()
        return self._firmware.version

    @property
    def active_bank(self) -> Bank:
        self._settle_firmware()
        return self._firmware.bank

    @property
    def firmware_state(self) -> FirmwareState:
        self._settle_firmware()
        return self._firmware.state

    @property
    def staged_bytes(self) -> int:
        return self._firmware.staging.staged_bytes

    @property
    def rebooting(self) -> bool:
        self._settle_firmware()
        return self._firmware.rebooting

    def inject(self, fault: Fault) -> None:
        super().inject(fault)
        self._faults = FirmwareFaults(fault)

    def clear_fault(self) -> None:
        super().clear_fault()
        self._faults = FirmwareFaults(None)

    def value(self, role: str) -> Value | None:
        """A role's value; the chunk window reads as zeros (None), the commands as 0."""
        if role not in FIRMWARE_ROLES:
            return super().value(role)
        self._settle_firmware()
        firmware, declared = self._firmware, self._firmware.staging.declaration
        match role:
            case Role.FIRMWARE_VERSION:
                return firmware.version
            case Role.FW_ACTIVE_BANK:
                return int(firmware.bank)
            case Role.FW_STATE:
                return int(firmware.state)
            case Role.FW_STAGED_BYTES:
                return firmware.staging.staged_bytes
            case Role.FW_STAGED_CRC:
                return firmware.staging.crc
            case Role.FW_IMAGE_SIZE:
                return declared.size
            case Role.FW_IMAGE_VERSION:
                return declared.version
            case Role.FW_ACTIVATE | Role.FW_CONFIRM:
                return 0
        return None

    def write(self, values: Mapping[str, Value]) -> None:
        """Apply one write request: its firmware command first (``RejectedWrite`` leaves everything as it was)."""
        self._settle_firmware()
        firmware = {role: value for role, value in values.items() if role in FIRMWARE_ROLES}
        if firmware:
            self._run(firmware)
            self.counters.writes.update(firmware.keys())
        if load := {role: value for role, value in values.items() if role not in FIRMWARE_ROLES}:
            super().write(load)

    def _own_fault(self, request: Request | None) -> Fault | None:
        self._settle_firmware()
        if self._firmware.rebooting:
            return REBOOTING
        if request is not None and request.writes(self._chunk_address) and self._faults.drops():
            self.counters.faults_injected += 1
            return DROPPED
        return None

    def _run(self, values: Mapping[str, Value]) -> None:
        commands = [name for name, roles in COMMANDS.items() if roles & values.keys()]
        if len(commands) != 1 or not values.keys() <= COMMANDS[commands[0]]:
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"one firmware command per write request, got {sorted(values)}")
        match commands[0]:
            case "declare":
                self._firmware.declare(size=values.get(IMAGE_SIZE), version=values.get(IMAGE_VERSION))
            case "chunk":
                self._stage_chunk(values)
            case "activate":
                self._activate(int(values[ACTIVATE]))
            case "confirm":
                if int(values[CONFIRM]) and self._firmware.confirm():
                    self.counters.fw_confirms += 1

    def _stage_chunk(self, values: Mapping[str, Value]) -> None:
        if missing := [role for role in COMMANDS["chunk"] if role not in values]:
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"a chunk writes offset, length and data together; "
                                                        f"missing {sorted(missing)}")
        offset, length, data = int(values[CHUNK_OFFSET]), int(values[CHUNK_LEN]), bytes(values[CHUNK_DATA])
        self._firmware.check_chunk(offset=offset, length=length)
        if length > len(data):
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"chunk length {length} exceeds its {len(data)} data bytes")
        chunk = data[:length]
        if self._faults.corrupts():
            chunk = flip_byte(chunk)
            self.counters.faults_injected += 1
        self._firmware.accept_chunk(offset=offset, data=chunk)
        self.counters.fw_chunks_received += 1
        self.counters.fw_bytes_received += length

    def _activate(self, value: int) -> None:
        if value:
            self._firmware.activate(now=self._clock())
            self.counters.fw_activations += 1

    def _settle_firmware(self) -> None:
        events = self._firmware.settle(self._clock(), boot_fails=self._faults.boot_fails,
                                       reboots_forever=self._faults.reboots_forever)
        for event in events:
            self.counters.fw_rollbacks += event in ROLLBACK_EVENTS
            self.counters.faults_injected += event in FAULT_EVENTS
