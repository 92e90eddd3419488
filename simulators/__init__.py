"""Simulated devices and fleets served over real Modbus/TCP, with fault injection.

Imports pymodbus, the standard library, the profiles and codec of ``adapters``
(including its reading of pysunspec2's SunSpec model definitions).
"""

from .device import SimulatedDevice
from .device_base import Counters, DeviceBase
from .errors import RejectedWrite, SimulatorError, SpecError, UnknownDeviceError
from .faults import Fault, FaultKind
from .fleet import Fleet
from .fleet_document import FaultPlan, FleetPlan, load_fleet_file, parse_fleet_document
from .inverter import SimulatedInverter
from .layout import plan_fleet
from .physics import LoadPhysics, PowerPath
from .sampler import FeederSampler
from .spec import DeviceSpec, FleetSpec, GatewaySpec

__all__ = [
    "Counters",
    "DeviceBase",
    "DeviceSpec",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FeederSampler",
    "Fleet",
    "FleetPlan",
    "FleetSpec",
    "GatewaySpec",
    "LoadPhysics",
    "PowerPath",
    "RejectedWrite",
    "SimulatedDevice",
    "SimulatedInverter",
    "SimulatorError",
    "SpecError",
    "UnknownDeviceError",
    "load_fleet_file",
    "parse_fleet_document",
    "plan_fleet",
]
