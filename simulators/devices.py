"""Which runtime model serves which profile: loads for static profiles, inverters for SunSpec ones."""

from __future__ import annotations

from adapters import Profile

from .device import SimulatedDevice
from .device_base import DeviceBase
from .inverter import SimulatedInverter
from .physics import LoadPhysics
from .registers import RegisterMap
from .spec import DeviceSpec
from .sunspec_image import image_profile


def served_map(profile: Profile) -> RegisterMap:
    """The registers a device with this profile serves: the profile, or its SunSpec image."""
    if not profile.is_sunspec:
        return RegisterMap(profile)
    return RegisterMap(image_profile(name=profile.name, models=profile.sunspec.models,
                                     base_address=profile.sunspec.base_address))


def build_device(spec: DeviceSpec, *, profile: Profile, register_map: RegisterMap, physics: LoadPhysics) -> DeviceBase:
    if profile.is_sunspec:
        return SimulatedInverter(spec=spec, profile=profile, image=register_map.profile, physics=physics)
    return SimulatedDevice(spec=spec, profile=profile, physics=physics)
