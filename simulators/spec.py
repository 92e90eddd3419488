"""Declarative fleet specs, validated when built: which devices sit behind which gateway."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .errors import SpecError
from .firmware import FirmwareSpec
from .physics import LoadPhysics

MAX_UNIT_ID = 247
SHED_PRIORITIES = (1, 2, 3)
MAX_PORT = 65535


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySpec:
    """One Modbus/TCP listener. Port 0 binds any free port."""

    index: int
    host: str
    port: int

    def __post_init__(self) -> None:
        if not 0 <= self.port <= MAX_PORT:
            raise SpecError(f"gateway {self.index}: port {self.port} is not in 0..{MAX_PORT}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """One simulated device: where it is reached, where it sits on the grid, how it draws power.

    For an inverter, ``load_factor`` is the share of its rating the sun makes available.
    ``firmware`` is for devices that model firmware (profile ``rtu``).
    """

    id: str
    profile: str
    gateway: int
    unit_id: int
    feeder: str
    shed_priority: int
    protected: bool
    rated_kw: float
    load_factor: float
    noise_seed: int
    physics: LoadPhysics | None = None  # None: the fleet's default physics
    firmware: FirmwareSpec | None = None  # None: the defaults of FirmwareSpec

    def __post_init__(self) -> None:
        if problem := _device_problem(self):
            raise SpecError(f"device {self.id!r}: {problem}")


def _device_problem(spec: DeviceSpec) -> str | None:
    if not spec.id or not spec.feeder or not spec.profile:
        return "id, feeder and profile must be non-empty"
    if not 1 <= spec.unit_id <= MAX_UNIT_ID:
        return f"unit_id {spec.unit_id} is not in 1..{MAX_UNIT_ID}"
    if spec.shed_priority not in SHED_PRIORITIES:
        return f"shed_priority {spec.shed_priority} is not one of {SHED_PRIORITIES}"
    if not spec.rated_kw > 0:
        return f"rated_kw must be > 0, got {spec.rated_kw}"
    if not 0 < spec.load_factor <= 1:
        return f"load_factor must be in (0, 1], got {spec.load_factor}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSpec:
    """Gateways and the devices behind them. Ids and (gateway, unit id) pairs are unique."""

    gateways: tuple[GatewaySpec, ...]
    devices: tuple[DeviceSpec, ...]

    def __post_init__(self) -> None:
        if not self.gateways or not self.devices:
            raise SpecError("a fleet needs at least one gateway and one device")
        _reject_repeats("device id", [device.id for device in self.devices])
        _reject_repeats("gateway index", [gateway.index for gateway in self.gateways])
        _reject_repeats(
            "gateway address",
            [(g.host, g.port) for g in self.gateways if g.port != 0],
        )
        _check_placement(self)

    @property
    def feeders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(device.feeder for device in self.devices))


def _reject_repeats(what: str, values: list[object]) -> None:
    if repeated := [value for value, count in Counter(values).items() if count > 1]:
        raise SpecError(f"duplicate {what}: {repeated[0]!r}")


def _check_placement(spec: FleetSpec) -> None:
    indexes = {gateway.index for gateway in spec.gateways}
    seen: dict[tuple[int, int], str] = {}
    for device in spec.devices:
        if device.gateway not in indexes:
            raise SpecError(f"device {device.id!r}: no gateway {device.gateway}")
        key = (device.gateway, device.unit_id)
        if key in seen:
            raise SpecError(
                f"device {device.id!r}: unit id {device.unit_id} on gateway {device.gateway} "
                f"is already used by {seen[key]!r}"
            )
        seen[key] = device.id
