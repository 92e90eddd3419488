"""A device's firmware: A/B banks, an image staged into the inactive bank, reboot, confirm or roll back.

Evaluated lazily from a monotonic clock, like the revert timer: ``settle(now)``
carries out a boot or a rollback that fell due, and says what happened. A
refused command raises ``RejectedWrite`` (ILLEGAL DATA VALUE) before anything
changes.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

from adapters import FirmwareState
from pymodbus.constants import ExcCodes

from .errors import RejectedWrite, SpecError
from .staging import Declaration, Staging

DEFAULT_VERSION = "1.0.0"
DEFAULT_REBOOT_S = 1.0
DEFAULT_CONFIRM_WINDOW_S = 5.0
VERSION_CHARACTERS = 16  # a string(8) register block


class Bank(enum.IntEnum):
    A = 0
    B = 1

    @property
    def other(self) -> Bank:
        return Bank.B if self is Bank.A else Bank.A


class FirmwareEvent(enum.Enum):
    """What ``Firmware.settle`` carried out; the device model counts these (they are not outcome codes)."""

    BOOTED = enum.auto()  # the new image runs, waiting for its confirmation
    BOOT_FAILED = enum.auto()  # the new image failed: the old one runs again
    BOOT_STUCK = enum.auto()  # the reboot does not end (reported once per activation)
    ROLLED_BACK = enum.auto()  # not confirmed in time: the old image runs again


@dataclass(frozen=True, slots=True, kw_only=True)
class FirmwareSpec:
    """A simulated device's firmware: the version it ships with and how long reboots and confirmations take."""

    version: str = DEFAULT_VERSION
    reboot_s: float = DEFAULT_REBOOT_S
    confirm_window_s: float = DEFAULT_CONFIRM_WINDOW_S

    def __post_init__(self) -> None:
        if problem := check_version(self.version):
            raise SpecError(f"firmware_version: {problem}")
        if not (math.isfinite(self.reboot_s) and self.reboot_s >= 0):
            raise SpecError(f"reboot_s must be a finite number >= 0, got {self.reboot_s!r}")
        if not (math.isfinite(self.confirm_window_s) and self.confirm_window_s > 0):
            raise SpecError(f"confirm_window_s must be a finite number > 0, got {self.confirm_window_s!r}")


def check_version(version: object) -> str | None:
    """What is wrong with a firmware version string, if anything."""
    if not isinstance(version, str) or not version or not version.isascii() or "\0" in version:
        return f"must be a non-empty ASCII string, got {version!r}"
    if len(version) > VERSION_CHARACTERS:
        return f"{version!r} is longer than {VERSION_CHARACTERS} characters"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Boot:
    """A reboot into ``version`` that ends at ``at``."""

    version: str
    at: float
    stuck: bool = False


class Firmware:
    """Running version and bank, boot state, and the staging area of the inactive bank."""

    def __init__(self, spec: FirmwareSpec) -> None:
        self.spec = spec
        self.version = spec.version
        self.bank = Bank.A
        self.state = FirmwareState.IDLE
        self.staging = Staging()
        self._boot: Boot | None = None
        self._fallback: tuple[str, Bank] | None = None
        self._confirm_by = math.inf

    @property
    def rebooting(self) -> bool:
        return self._boot is not None

    def declare(self, *, size: int | None = None, version: str | None = None) -> None:
        """Declare the image to stage; a different one restarts staging, the same one changes nothing."""
        self._refuse_while_pending("declare an image")
        current = self.staging.declaration
        declared = Declaration(size=current.size if size is None else size,
                               version=current.version if version is None else version)
        if self.staging.declare(declared):
            self.state = FirmwareState.STAGING

    def accept_chunk(self, *, offset: int, data: bytes) -> None:
        self.check_chunk(offset=offset, length=len(data))
        self.staging.store(offset=offset, data=data)
        self.state = FirmwareState.STAGING

    def check_chunk(self, *, offset: int, length: int) -> None:
        self._refuse_while_pending("stage a chunk")
        self.staging.check(offset=offset, length=length)

    def activate(self, *, now: float) -> None:
        """Reboot into the inactive bank, which must hold the whole declared image."""
        self._refuse_while_pending("activate")
        staging = self.staging
        if not staging.complete:
            raise _refused(f"cannot activate: {staging.staged_bytes} of {staging.declaration.size} bytes staged")
        if not staging.declaration.version:
            raise _refused("cannot activate an image without a declared version")
        self._boot = Boot(version=staging.declaration.version, at=now + self.spec.reboot_s)
        staging.declare(Declaration())

    def confirm(self) -> bool:
        """Keep the booted image; True if this confirmed it, False if it was confirmed already."""
        if self.state is FirmwareState.CONFIRMED:
            return False
        if self.state is not FirmwareState.PENDING_CONFIRM:
            raise _refused(f"nothing to confirm in state {self.state.name}")
        self.state, self._fallback, self._confirm_by = FirmwareState.CONFIRMED, None, math.inf
        return True

    def settle(self, now: float, *, boot_fails: bool, reboots_forever: bool) -> tuple[FirmwareEvent, ...]:
        """Carry out what fell due by ``now``: the end of a reboot, then a missed confirmation."""
        events = []
        if self._boot is not None and now >= self._boot.at:
            events.extend(self._end_reboot(now, boot_fails=boot_fails, reboots_forever=reboots_forever))
        if self.state is FirmwareState.PENDING_CONFIRM and now >= self._confirm_by:
            self._roll_back()
            events.append(FirmwareEvent.ROLLED_BACK)
        return tuple(events)

    def _end_reboot(self, now: float, *, boot_fails: bool, reboots_forever: bool) -> list[FirmwareEvent]:
        """Boot the new image when the reboot is over; a reboot that was stuck ends ``now``."""
        boot = self._boot
        if reboots_forever:
            self._boot = replace(boot, stuck=True)
            return [] if boot.stuck else [FirmwareEvent.BOOT_STUCK]
        self._boot = None
        if boot_fails:
            self.state = FirmwareState.ROLLED_BACK
            return [FirmwareEvent.BOOT_FAILED]
        self._fallback = (self.version, self.bank)
        self.version, self.bank = boot.version, self.bank.other
        booted_at = now if boot.stuck else boot.at
        self.state, self._confirm_by = FirmwareState.PENDING_CONFIRM, booted_at + self.spec.confirm_window_s
        return [FirmwareEvent.BOOTED]

    def _roll_back(self) -> None:
        self.version, self.bank = self._fallback
        self.state, self._fallback, self._confirm_by = FirmwareState.ROLLED_BACK, None, math.inf

    def _refuse_while_pending(self, what: str) -> None:
        if self.state is FirmwareState.PENDING_CONFIRM:
            raise _refused(f"cannot {what} while the booted image awaits confirmation")


def _refused(reason: str) -> RejectedWrite:
    return RejectedWrite(ExcCodes.ILLEGAL_VALUE, reason)
