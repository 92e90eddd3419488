"""Which runtime model serves which profile: inverters for SunSpec profiles, RTUs for static
profiles with the firmware roles, secure loads for static profiles that declare ``auth``,
loads for the other static profiles."""

from __future__ import annotations

from adapters import Profile

from .device import SimulatedDevice
from .device_base import DeviceBase
from .auth_roles import is_secure_profile
from .errors import SpecError
from .firmware_roles import is_rtu_profile
from .inverter import SimulatedInverter
from .physics import LoadPhysics
from .registers import RegisterMap
from .rtu import SimulatedRtu
from .secure_load import SimulatedSecureLoad
from .spec import DeviceSpec
from .sunspec_image import image_profile


def served_map(profile: Profile) -> RegisterMap:
    """The registers a device with this profile serves: the profile, or its SunSpec image."""
    if not profile.is_sunspec:
        return RegisterMap(profile)
    return RegisterMap(image_profile(name=profile.name, models=profile.sunspec.models,
                                     base_address=profile.sunspec.base_address))


def build_device(spec: DeviceSpec, *, profile: Profile, register_map: RegisterMap, physics: LoadPhysics,
                 seed: int) -> DeviceBase:
    """The device model for ``spec``; ``seed`` (the fleet's) derives its first auth key, if it has one."""
    rtu, secure = is_rtu_profile(profile), is_secure_profile(profile)
    if rtu and secure:
        raise SpecError(f"profile {profile.name!r}: no simulated device has both firmware banks and auth")
    if spec.firmware is not None and not rtu:
        raise SpecError(f"device {spec.id!r}: profile {profile.name!r} has no firmware roles; it takes no firmware")
    if profile.is_sunspec:
        return SimulatedInverter(spec=spec, profile=profile, image=register_map.profile, physics=physics)
    if secure:
        return SimulatedSecureLoad(spec=spec, profile=profile, physics=physics, seed=seed)
    if rtu:
        return SimulatedRtu(spec=spec, profile=profile, physics=physics)
    return SimulatedDevice(spec=spec, profile=profile, physics=physics)
