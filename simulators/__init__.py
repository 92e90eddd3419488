"""Simulated devices and fleets served over real Modbus/TCP, with fault injection.

Imports pymodbus, the standard library, and the profiles and codec of ``adapters``.
"""

from .device import Counters, SimulatedDevice
from .errors import RejectedWrite, SimulatorError, SpecError, UnknownDeviceError
from .faults import Fault, FaultKind
from .fleet import Fleet
from .layout import plan_fleet
from .physics import LoadPhysics
from .spec import DeviceSpec, FleetSpec, GatewaySpec

__all__ = [
    "Counters",
    "DeviceSpec",
    "Fault",
    "FaultKind",
    "Fleet",
    "FleetSpec",
    "GatewaySpec",
    "LoadPhysics",
    "RejectedWrite",
    "SimulatedDevice",
    "SimulatorError",
    "SpecError",
    "UnknownDeviceError",
    "plan_fleet",
]
