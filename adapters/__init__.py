"""The device protocol layer: gateway sessions, register codec and device profiles.

Imports only pymodbus, the standard library, pysunspec2's SunSpec model
definitions (``sunspec_models``) and cryptography's AES key wrap (``auth_key``).
"""

from .auth import AuthPolicy, KeyOp, KeySlots, PendingState
from .auth_key import AuthKey, wrap_key
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
from .request_stats import LATENCY_BUCKETS_S, RequestCounts, RequestStats
from .session import GatewaySession
from .settings import SessionSettings

__all__ = [
    "AdapterError",
    "AuthKey",
    "AuthPolicy",
    "CodecError",
    "DeviceClient",
    "DeviceFault",
    "FaultCode",
    "GatewaySession",
    "KeyOp",
    "LATENCY_BUCKETS_S",
    "KeySlots",
    "LayoutCache",
    "NotImplementedValueError",
    "NotWritableError",
    "PendingState",
    "Point",
    "Profile",
    "ProfileError",
    "ProfileInfo",
    "RequestCounts",
    "RequestStats",
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
    "wrap_key",
]
