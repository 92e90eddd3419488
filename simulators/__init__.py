"""Simulated devices and fleets served over real Modbus/TCP, with fault injection.

Imports pymodbus, the standard library, the profiles and codec of ``adapters``
(including its reading of pysunspec2's SunSpec model definitions).
"""

from adapters import FirmwareState  # re-exported: the simulated RTU reports it

from .device import SimulatedDevice
from .device_base import Counters, DeviceBase, Request
from .errors import RejectedWrite, SimulatorError, SpecError, UnknownDeviceError
from .faults import APPLY_FAULTS, AUTH_FAULTS, FIRMWARE_FAULTS, Fault, FaultKind
from .firmware import Bank, FirmwareSpec
from .fleet import Fleet
from .fleet_document import FaultPlan, FleetPlan, load_fleet_file, parse_fleet_document
from .inverter import SimulatedInverter
from .layout import plan_fleet
from .physics import LoadPhysics, PowerPath
from .rtu import RtuCounters, SimulatedRtu
from .key_ring import KeyCommand, KeyRing
from .sampler import FeederSampler
from .secure_load import AuthCounters, SimulatedSecureLoad
from .spec import DeviceSpec, FleetSpec, GatewaySpec
from .write_log import WriteRecord

__all__ = [
    "APPLY_FAULTS",
    "AUTH_FAULTS",
    "AuthCounters",
    "FIRMWARE_FAULTS",
    "Bank",
    "Counters",
    "DeviceBase",
    "DeviceSpec",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FirmwareSpec",
    "FirmwareState",
    "FeederSampler",
    "Fleet",
    "FleetPlan",
    "FleetSpec",
    "GatewaySpec",
    "KeyCommand",
    "KeyRing",
    "LoadPhysics",
    "PowerPath",
    "RejectedWrite",
    "Request",
    "RtuCounters",
    "SimulatedDevice",
    "SimulatedInverter",
    "SimulatedRtu",
    "SimulatedSecureLoad",
    "SimulatorError",
    "SpecError",
    "UnknownDeviceError",
    "WriteRecord",
    "load_fleet_file",
    "parse_fleet_document",
    "plan_fleet",
]
