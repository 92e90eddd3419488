"""Lay out a fleet from a few numbers and a seed: a pure, deterministic ``FleetSpec`` builder."""

from __future__ import annotations

import random

from .errors import SpecError
from .spec import MAX_PORT, MAX_UNIT_ID, SHED_PRIORITIES, DeviceSpec, FleetSpec, GatewaySpec

PROFILE_NAME = "controllable_load"
DEVICE_ID_FORMAT = "load-{:04d}"
FEEDER_FORMAT = "F{}"
RATED_KW_RANGE = (5.0, 50.0)
LOAD_FACTOR_RANGE = (0.5, 0.9)
PROTECTED_FRACTION = 0.05
KW_DECIMALS = 3  # rated_kw is stored in whole watts


def plan_fleet(*, devices: int, gateways: int, host: str, port: int, seed: int, feeders: int) -> FleetSpec:
    """Devices go round-robin over gateways (unit ids 1, 2, ...) and in blocks over feeders."""
    _check_counts(devices=devices, gateways=gateways, port=port, feeders=feeders)
    rng = random.Random(seed)
    protected = set(rng.sample(range(devices), k=round(devices * PROTECTED_FRACTION)))
    gateway_specs = tuple(
        GatewaySpec(index=index, host=host, port=port + index if port else 0) for index in range(gateways)
    )
    device_specs = tuple(
        _device(index, rng=rng, gateways=gateways, feeders=feeders, devices=devices, protected=protected)
        for index in range(devices)
    )
    return FleetSpec(gateways=gateway_specs, devices=device_specs)


def _device(
    index: int, *, rng: random.Random, gateways: int, feeders: int, devices: int, protected: set[int]
) -> DeviceSpec:
    return DeviceSpec(
        id=DEVICE_ID_FORMAT.format(index + 1),
        profile=PROFILE_NAME,
        gateway=index % gateways,
        unit_id=index // gateways + 1,
        feeder=FEEDER_FORMAT.format(index * feeders // devices + 1),
        shed_priority=rng.choice(SHED_PRIORITIES),
        protected=index in protected,
        rated_kw=round(rng.uniform(*RATED_KW_RANGE), KW_DECIMALS),
        load_factor=round(rng.uniform(*LOAD_FACTOR_RANGE), 3),
        noise_seed=rng.getrandbits(32),
    )


def _check_counts(*, devices: int, gateways: int, port: int, feeders: int) -> None:
    if gateways < 1 or devices < 1:
        raise SpecError(f"need at least one device and one gateway, got {devices} and {gateways}")
    if devices > MAX_UNIT_ID * gateways:
        raise SpecError(
            f"{devices} devices do not fit {gateways} gateways of {MAX_UNIT_ID} unit ids each"
        )
    if not 1 <= feeders <= devices:
        raise SpecError(f"feeders must be in 1..{devices}, got {feeders}")
    if port and not 1 <= port <= MAX_PORT - gateways + 1:
        raise SpecError(f"ports {port}..{port + gateways - 1} do not fit in 1..{MAX_PORT}")
