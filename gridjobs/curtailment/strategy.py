"""What distinguishes one curtailment operation from another: a strategy.

A strategy is pure: it decides which devices to survey, how much reduction
is needed, and which command each chosen device gets. The engine does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Protocol, Sequence

from gridjobs.records import Device

Readings = Mapping[str, Mapping[str, float]]

VERIFY_TOLERANCE_FRACTION = 0.05
VERIFY_TOLERANCE_KW = 0.05


@dataclass(frozen=True)
class Command:
    device_id: str
    setpoint_pct: int
    expected_kw: float    # expected reduction
    expect_max_kw: float  # the device is verified once it measures at most this

    def args(self) -> dict[str, Any]:
        return {"setpoint_pct": self.setpoint_pct, "expect_max_kw": self.expect_max_kw,
                "expected_kw": self.expected_kw}

    @classmethod
    def from_args(cls, device_id: str, args: Mapping[str, Any]) -> "Command":
        return cls(device_id, int(args["setpoint_pct"]), float(args["expected_kw"]),
                   float(args["expect_max_kw"]))


@dataclass(frozen=True)
class Applied:
    """A command a device has taken, and the reduction measured after it."""

    command: Command
    achieved_kw: float


def verify_ceiling(expected_after_kw: float, before_kw: float) -> float:
    """Measured kW at or below which a command counts as having taken effect."""
    return expected_after_kw + VERIFY_TOLERANCE_FRACTION * before_kw + VERIFY_TOLERANCE_KW


class Strategy(Protocol):
    survey_roles: tuple[str, ...]

    def surveyed(self, devices: Iterable[Device]) -> list[Device]: ...

    def target_kw(self, readings: Readings) -> float: ...

    def plan(self, devices: Mapping[str, Device], readings: Readings, *, target_kw: float,
             applied: Mapping[str, Applied], unavailable: frozenset[str]) -> list[Command]:
        """New commands (or deeper ones for devices in `applied`) toward `target_kw`."""

    def result(self, readings: Readings) -> dict[str, Any]:
        """What the operation's result adds to the engine's own figures."""

    def summary(self, commands: Sequence[Command]) -> dict[str, Any]:
        """What a dry run adds about the commands a plan chose."""
