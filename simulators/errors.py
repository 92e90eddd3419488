"""The simulators exception tree."""

from __future__ import annotations

from pymodbus.constants import ExcCodes


class SimulatorError(Exception):
    """Root of every error raised by the simulators package."""


class SpecError(SimulatorError, ValueError):
    """A device or fleet spec is invalid."""


class UnknownDeviceError(SimulatorError, KeyError):
    """No device with that id, or no feeder with that name, in the fleet."""

    def __str__(self) -> str:
        return str(self.args[0])


class RejectedWrite(SimulatorError):
    """A device refuses a register write; ``code`` is the Modbus exception it answers with."""

    def __init__(self, code: ExcCodes, reason: str) -> None:
        super().__init__(f"{reason} (answering {code.name})")
        self.code = code
        self.reason = reason

    def __reduce__(self) -> tuple[type[RejectedWrite], tuple[ExcCodes, str]]:
        return (type(self), (self.code, self.reason))
