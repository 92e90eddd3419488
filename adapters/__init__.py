"""The device protocol layer: gateway sessions, register codec and device profiles.

Imports only pymodbus, the standard library and pysunspec2's SunSpec model
definitions (``sunspec_models``).
"""

from .client import DeviceClient
from .codec import Value, decode, encode
from .errors import (
    AdapterError,
    CodecError,
    DeviceFault,
    FaultCode,
    NotImplementedValueError,
    NotWritableError,
    ProfileError,
    SessionClosedError,
    UnknownRoleError,
)
from .pool import SessionPool
from .layouts import LayoutCache
from .point import Point
from .profile import Profile, RoleBinding, SunSpecMap
from .profile_file import ProfileInfo, list_profiles, load_profile, load_profile_file, parse_profile
from .session import GatewaySession
from .settings import SessionSettings

__all__ = [
    "AdapterError",
    "CodecError",
    "DeviceClient",
    "DeviceFault",
    "FaultCode",
    "GatewaySession",
    "LayoutCache",
    "NotImplementedValueError",
    "NotWritableError",
    "Point",
    "Profile",
    "ProfileError",
    "ProfileInfo",
    "RoleBinding",
    "SessionClosedError",
    "SessionPool",
    "SessionSettings",
    "SunSpecMap",
    "UnknownRoleError",
    "Value",
    "decode",
    "encode",
    "list_profiles",
    "load_profile",
    "load_profile_file",
    "parse_profile",
]
