"""The device protocol layer: gateway sessions, register codec and device profiles.

Imports only pymodbus, the standard library, pysunspec2's SunSpec model
definitions (``sunspec_models``) and cryptography's AES key wrap (``auth_key``).
"""

from .arming import Arming
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
    ANSWER_LOST,
    TRANSIENT,
    UnknownRoleError,
)
from .firmware_state import IDLE_STATES, FirmwareState
from .pool import SessionPool
from .layouts import LayoutCache
from .point import Point
from .profile import Profile, RoleBinding, SunSpecMap
from .profile_file import ProfileInfo, list_profiles, load_profile, load_profile_file, parse_profile
from .roles import CURTAIL_ROLES, DER_ROLES, FIRMWARE_ROLES, GENERATION_ROLE, Role
from .request_stats import LATENCY_BUCKETS_S, RequestCounts, RequestStats
from .session import GatewaySession
from .settings import SessionSettings

__all__ = [
    "CURTAIL_ROLES",
    "DER_ROLES",
    "FIRMWARE_ROLES",
    "GENERATION_ROLE",
    "IDLE_STATES",
    "ANSWER_LOST",
    "TRANSIENT",
    "AdapterError",
    "Arming",
    "AuthKey",
    "AuthPolicy",
    "CodecError",
    "DeviceClient",
    "DeviceFault",
    "FaultCode",
    "FirmwareState",
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
    "Role",
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
