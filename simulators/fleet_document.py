"""A fleet file (TOML) or document (dict) turned into a validated ``FleetPlan``.

See ``simulators/fleets/mixed.toml`` for the format. Devices of each
``[[group]]`` go round-robin over the group's gateways, taking the next free
unit ids there, and in blocks over the group's feeders. Every problem names the
file, the section and what is wrong.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters import ProfileError, load_profile

from .errors import SpecError
from .faults import Fault
from .firmware import FirmwareSpec
from .firmware_roles import is_rtu_profile
from .physics import LoadPhysics
from .sampler import DEFAULT_SAMPLE_INTERVAL_S
from .spec import MAX_PORT, SHED_PRIORITIES, DeviceSpec, FleetSpec, GatewaySpec

FLEET_KEYS = {"seed": int, "host": str, "port": int, "gateways": int, "feeders": (int, list),
              "sample_interval_s": (int, float), "profile_dirs": list}
GROUP_KEYS = {"name": str, "profile": str, "count": int, "id_prefix": str, "rated_kw": (int, float, list),
              "load_factor": (int, float, list), "protected_fraction": (int, float), "shed_priorities": list,
              "feeders": list, "gateways": list, "first_unit_id": int, "physics": dict,
              "firmware_version": str, "reboot_s": (int, float), "confirm_window_s": (int, float)}
FIRMWARE_KEYS = {"firmware_version": "version", "reboot_s": "reboot_s", "confirm_window_s": "confirm_window_s"}
PHYSICS_KEYS = {"noise_fraction": (int, float), "ramp_s": (int, float), "ramp_shape": str,
                "surge_factor": (int, float), "surge_decay_s": (int, float)}
DEFAULTS = {"seed": 1, "host": "127.0.0.1", "port": 0, "gateways": 1, "feeders": 4}
ID_FORMAT = "{prefix}-{number:04d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Faults from the file: one device each, or a seeded fraction of a group (or the fleet)."""

    fault: Fault
    device: str | None = None
    fraction: float | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetPlan:
    spec: FleetSpec
    seed: int
    physics: LoadPhysics
    sample_interval_s: float | None
    profile_dirs: tuple[Path, ...]
    groups: dict[str, tuple[str, ...]]
    faults: tuple[FaultPlan, ...]


def load_fleet_file(path: str | Path, **overrides: Any) -> FleetPlan:
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read fleet file: {exc}") from exc
    return parse_fleet_document(document, source=str(path), base_dir=path.parent, **overrides)


def parse_fleet_document(
    document: dict[str, Any], *, source: str = "<memory>", base_dir: Path = Path("."),
    host: str | None = None, port: int | None = None,
) -> FleetPlan:
    _check_keys(document, {"fleet": dict, "physics": dict, "group": list, "fault": list}, f"{source}: top level")
    fleet = {**DEFAULTS, **document.get("fleet", {})}
    _check_keys(fleet, FLEET_KEYS, f"{source}: [fleet]")
    fleet.update({k: v for k, v in (("host", host), ("port", port)) if v is not None})
    dirs = tuple(base_dir / d for d in fleet.get("profile_dirs", ()))
    feeders = _feeders(fleet["feeders"], source)
    gateways = _gateways(fleet, source)
    rng = random.Random(fleet["seed"])
    groups = document.get("group") or []
    if not groups:
        raise SpecError(f"{source}: needs at least one [[group]]")
    devices, members, next_unit = [], {}, {g.index: 1 for g in gateways}
    for index, group in enumerate(groups):
        made = _group_devices(group, index=index, source=source, rng=rng, feeders=feeders,
                              gateways=len(gateways), next_unit=next_unit, dirs=dirs)
        members[group["name"]] = tuple(d.id for d in made)
        devices.extend(made)
    spec = FleetSpec(gateways=gateways, devices=tuple(devices))
    return FleetPlan(
        spec=spec, seed=fleet["seed"], physics=_physics(document.get("physics", {}), f"{source}: [physics]"),
        sample_interval_s=fleet.get("sample_interval_s", DEFAULT_SAMPLE_INTERVAL_S) or None,
        profile_dirs=dirs, groups=members,
        faults=tuple(_fault(entry, i, source, members) for i, entry in enumerate(document.get("fault", []))),
    )


def _group_devices(group: Any, *, index: int, source: str, rng: random.Random, feeders: list[str],
                   gateways: int, next_unit: dict[int, int], dirs: tuple[Path, ...]) -> list[DeviceSpec]:
    where = f"{source}: [[group]] #{index}"
    if not isinstance(group, dict):
        raise SpecError(f"{where}: must be a table")
    _check_keys(group, GROUP_KEYS, where, required=("name", "profile", "count"))
    where = f"{source}: group {group['name']!r}"
    try:
        profile = load_profile(group["profile"], search_dirs=dirs)
    except ProfileError as exc:
        raise SpecError(f"{where}: {exc}") from exc
    firmware = _firmware(group, where=where, rtu=is_rtu_profile(profile))
    count = group["count"]
    if count < 1:
        raise SpecError(f"{where}: count must be >= 1, got {count}")
    own_feeders = group.get("feeders", feeders)
    own_gateways = group.get("gateways", list(range(gateways)))
    if unknown := [g for g in own_gateways if g not in range(gateways)]:
        raise SpecError(f"{where}: no gateways {unknown} (the fleet has {gateways})")
    if first := group.get("first_unit_id"):
        for gateway in own_gateways:
            next_unit[gateway] = first
    physics = _physics(group["physics"], f"{where}: physics") if "physics" in group else None
    protected = set(rng.sample(range(count), k=round(count * group.get("protected_fraction", 0.0))))
    made = []
    for i in range(count):
        gateway = own_gateways[i % len(own_gateways)]
        unit_id, next_unit[gateway] = next_unit[gateway], next_unit[gateway] + 1
        made.append(_device(group, i, where=where, rng=rng, gateway=gateway, unit_id=unit_id,
                            feeder=own_feeders[i * len(own_feeders) // count], protected=i in protected,
                            physics=physics, firmware=firmware))
    return made


def _device(group: dict[str, Any], i: int, *, where: str, rng: random.Random, **placement: Any) -> DeviceSpec:
    try:
        return DeviceSpec(
            id=ID_FORMAT.format(prefix=group.get("id_prefix", group["name"]), number=i + 1),
            profile=group["profile"],
            shed_priority=rng.choice(group.get("shed_priorities", SHED_PRIORITIES)),
            rated_kw=round(_draw(group.get("rated_kw", [5.0, 50.0]), rng, f"{where}: rated_kw"), 3),
            load_factor=round(_draw(group.get("load_factor", [0.5, 0.9]), rng, f"{where}: load_factor"), 3),
            noise_seed=rng.getrandbits(32),
            **placement,
        )
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from exc


def _firmware(group: dict[str, Any], *, where: str, rtu: bool) -> FirmwareSpec | None:
    """The group's firmware (RTU profiles only): ``firmware_version``, ``reboot_s``, ``confirm_window_s``."""
    given = {FIRMWARE_KEYS[key]: value for key, value in group.items() if key in FIRMWARE_KEYS}
    if given and not rtu:
        raise SpecError(f"{where}: {sorted(k for k in group if k in FIRMWARE_KEYS)} need a profile with "
                        f"firmware roles (such as 'rtu'); {group['profile']!r} has none")
    if not given:
        return None
    try:
        return FirmwareSpec(**given)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from exc


def _draw(value: Any, rng: random.Random, where: str) -> float:
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, (int, float)) for v in value) or value[0] > value[1]:
            raise SpecError(f"{where}: a range must be [low, high], got {value!r}")
        return rng.uniform(*value)
    return float(value)


def _physics(table: dict[str, Any], where: str) -> LoadPhysics:
    _check_keys(table, PHYSICS_KEYS, where)
    try:
        return LoadPhysics(**table)
    except ValueError as exc:
        raise SpecError(f"{where}: {exc}") from exc


def _fault(entry: Any, index: int, source: str, members: dict[str, tuple[str, ...]]) -> FaultPlan:
    where = f"{source}: [[fault]] #{index}"
    if not isinstance(entry, dict) or "kind" not in entry:
        raise SpecError(f"{where}: must be a table with a 'kind'")
    params = {k: v for k, v in entry.items() if k not in ("kind", "device", "fraction", "group")}
    device, fraction, group = entry.get("device"), entry.get("fraction"), entry.get("group")
    if (device is None) == (fraction is None):
        raise SpecError(f"{where}: give exactly one of 'device' or 'fraction'")
    if fraction is not None and not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
        raise SpecError(f"{where}: fraction must be in (0, 1], got {fraction!r}")
    if group is not None and group not in members:
        raise SpecError(f"{where}: no group {group!r} (groups: {sorted(members)})")
    try:
        fault = Fault.parse(entry["kind"], params)
    except ValueError as exc:
        raise SpecError(f"{where}: {exc}") from exc
    return FaultPlan(fault=fault, device=device, fraction=fraction, group=group)


def _feeders(value: Any, source: str) -> list[str]:
    names = [f"F{n + 1}" for n in range(value)] if isinstance(value, int) else value
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise SpecError(f"{source}: [fleet] feeders must be a count >= 1 or distinct names, got {value!r}")
    return names


def _gateways(fleet: dict[str, Any], source: str) -> tuple[GatewaySpec, ...]:
    count, port = fleet["gateways"], fleet["port"]
    if count < 1 or (port and not 1 <= port <= MAX_PORT - count + 1):
        raise SpecError(f"{source}: [fleet] needs gateways >= 1 and ports that fit, got {count} from {port}")
    return tuple(GatewaySpec(index=i, host=fleet["host"], port=port + i if port else 0) for i in range(count))


def _check_keys(table: dict[str, Any], types: dict[str, Any], where: str, *, required: tuple[str, ...] = ()) -> None:
    if missing := [key for key in required if key not in table]:
        raise SpecError(f"{where}: missing keys {missing}")
    if unknown := sorted(set(table) - set(types)):
        raise SpecError(f"{where}: unknown keys {unknown} (known: {', '.join(types)})")
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, types[key]):
            raise SpecError(f"{where}: {key!r} has the wrong type: {value!r}")
