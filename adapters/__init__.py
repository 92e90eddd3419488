"""The device protocol layer: gateway sessions, register codec and device profiles.

Imports only pymodbus and the standard library.
"""

from .client import DeviceClient
from .codec import decode, encode
from .errors import (
    AdapterError,
    CodecError,
    DeviceFault,
    FaultCode,
    NotWritableError,
    ProfileError,
    SessionClosedError,
    UnknownRoleError,
)
from .pool import SessionPool
from .profile import Point, Profile
from .profile_file import load_profile, load_profile_file, parse_profile
from .session import GatewaySession
from .settings import SessionSettings

__all__ = [
    "AdapterError",
    "CodecError",
    "DeviceClient",
    "DeviceFault",
    "FaultCode",
    "GatewaySession",
    "NotWritableError",
    "Point",
    "Profile",
    "ProfileError",
    "SessionClosedError",
    "SessionPool",
    "SessionSettings",
    "UnknownRoleError",
    "decode",
    "encode",
    "load_profile",
    "load_profile_file",
    "parse_profile",
]
