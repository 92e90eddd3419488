"""Device profiles: a register map as data, shared by adapters and simulators.

A profile is either *static* (its points sit at fixed addresses) or *SunSpec*
(its roles name SunSpec model points, whose addresses each device reveals when
its model chain is walked; see ``sunspec_layout``). Roles are how callers name
values: a point's own ``role``, or a ``RoleBinding`` that maps a role onto a
point with an extra engineering multiplier (SunSpec ``W`` in watts read as
``measured_kw`` in kW through 0.001).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .arming import Arming, arming_of
from .auth import AuthPolicy, check_auth_layout
from .errors import ProfileError, UnknownRoleError
from .point import REGISTER_SPACE, Point
from .sunspec_models import check_point_ref

__all__ = ["Point", "Profile", "RoleBinding", "SunSpecMap", "REGISTER_SPACE"]

SUNSPEC_BASE_ADDRESS = 40000


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleBinding:
    """A role played by a point: ``role value = point value * multiplier``, in ``unit``."""

    role: str
    point: str
    multiplier: float = 1.0
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if not self.role or not self.point:
            raise ProfileError(f"role {self.role!r}: role and point must be non-empty")
        if not math.isfinite(self.multiplier) or self.multiplier <= 0:
            raise ProfileError(f"role {self.role!r}: multiplier must be a finite number > 0, got {self.multiplier!r}")
        if None not in (self.minimum, self.maximum) and self.minimum > self.maximum:
            raise ProfileError(f"role {self.role!r}: minimum {self.minimum} is greater than maximum {self.maximum}")

    def apply(self, point: Point) -> Point:
        """The point as this role sees it: same registers, role's scale, unit and limits."""
        return replace(
            point,
            role=self.role,
            scale=point.scale * self.multiplier,
            unit=self.unit if self.unit is not None else point.unit,
            minimum=self.minimum if self.minimum is not None else _times(point.minimum, self.multiplier),
            maximum=self.maximum if self.maximum is not None else _times(point.maximum, self.multiplier),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SunSpecMap:
    """Where a SunSpec device's map starts and which models a profile needs."""

    models: tuple[int, ...]
    base_address: int = SUNSPEC_BASE_ADDRESS

    def __post_init__(self) -> None:
        if not self.models or len(set(self.models)) != len(self.models):
            raise ProfileError(f"sunspec: 'models' must be a non-empty list without repeats, got {list(self.models)}")
        if not 0 <= self.base_address < REGISTER_SPACE - 2:
            raise ProfileError(f"sunspec: base_address {self.base_address} is outside the register space")


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A named, validated register map. Look points up by role.

    ``arming`` says how a curtailment arms the revert timer before its setpoint
    acts (see ``arming``); ``allow_unarmed`` admits a curtailable profile without one.
    """

    name: str
    points: tuple[Point, ...] = ()
    bindings: tuple[RoleBinding, ...] = ()
    sunspec: SunSpecMap | None = None
    description: str = ""
    read_gap: int = 0
    auth: AuthPolicy | None = None
    allow_unarmed: bool = False
    source: str = "<memory>"
    _by_role: Mapping[str, Point] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, Point] = field(init=False, repr=False, compare=False)
    _roles: frozenset[str] = field(init=False, repr=False, compare=False)
    _arming: Arming = field(init=False, repr=False, compare=False)
    # What clients work out from this map for a group of roles (adapters.client's request
    # plans), kept with it: every device of a batch asks for the same few groups.
    _plans: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sunspec is None:
            _check_static(self)
        else:
            _check_sunspec(self)
        by_name = {point.name: point for point in self.points}
        by_role = {point.role: point for point in self.points}
        if self.sunspec is None:
            by_role.update({b.role: _bound(self, b, by_name) for b in self.bindings})
        # Plain dicts (not mappingproxies) so that profiles pickle across processes.
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_role", by_role)
        object.__setattr__(self, "_roles", frozenset(self.roles))
        if self.auth is not None:
            _check_auth(self)
        if not isinstance(self.allow_unarmed, bool):
            raise ProfileError(f"{self.source}: allow_unarmed must be true or false, got {self.allow_unarmed!r}")
        object.__setattr__(self, "_arming", arming_of(self))
        object.__setattr__(self, "_plans", {})

    @property
    def arming(self) -> Arming:
        """How a curtailment of this device arms its revert timer before the setpoint acts."""
        return self._arming

    @property
    def plans(self) -> dict:
        """A memo for request plans derived from this map (``adapters.client``)."""
        return self._plans

    @property
    def is_sunspec(self) -> bool:
        """Whether addresses come from each device's SunSpec model chain."""
        return self.sunspec is not None

    @property
    def requires_auth(self) -> bool:
        """Whether some writes need a MAC deposit first (the profile declares ``auth``)."""
        return self.auth is not None

    @property
    def critical_roles(self) -> frozenset[str]:
        return frozenset(self.auth.critical_roles) if self.auth is not None else frozenset()

    @property
    def roles(self) -> tuple[str, ...]:
        if self.sunspec is not None:
            return tuple(binding.role for binding in self.bindings)
        return tuple(self._by_role)

    def has_role(self, role: str) -> bool:
        return role in self._roles

    def require_roles(self, roles: Iterable[str]) -> None:
        """Raise ``UnknownRoleError`` for the first role the profile lacks."""
        for role in roles:
            if not self.has_role(role):
                raise UnknownRoleError(f"profile {self.name!r} has no point with role {role!r}")

    def point(self, role: str) -> Point:
        self.require_roles([role])
        if self.sunspec is not None:
            raise ProfileError(
                f"profile {self.name!r}: role {role!r} has no fixed address; SunSpec addresses are "
                "discovered per device (DeviceClient does it, or sunspec_layout.resolve)"
            )
        return self._by_role[role]

    def point_named(self, name: str) -> Point:
        try:
            return self._by_name[name]
        except KeyError:
            raise ProfileError(f"profile {self.name!r} has no point named {name!r}") from None

    def scale_factor_point(self, point: Point) -> Point | None:
        """The sunssf point ``point`` is scaled by, if any."""
        return None if point.scale_factor is None else self.point_named(point.scale_factor)


def _times(limit: float | None, multiplier: float) -> float | None:
    return None if limit is None else limit * multiplier


def _bound(profile: Profile, binding: RoleBinding, by_name: Mapping[str, Point]) -> Point:
    if binding.point not in by_name:
        raise ProfileError(f"{profile.source}: role {binding.role!r}: names no point {binding.point!r}")
    try:
        return binding.apply(by_name[binding.point])
    except ProfileError as exc:
        raise ProfileError(f"{profile.source}: role {binding.role!r}: {exc}") from exc


def _check_static(profile: Profile) -> None:
    if not profile.points:
        raise ProfileError(f"{profile.source}: profile {profile.name!r} has no points")
    _reject_duplicates(profile.source, [(f"point {p.name!r}", "name", p.name) for p in profile.points])
    roles = [(f"point {p.name!r}", "role", p.role) for p in profile.points]
    _reject_duplicates(profile.source, roles + [(f"role {b.role!r}", "role", b.role) for b in profile.bindings])
    _reject_overlaps(profile.source, profile.points)
    names = {point.name: point for point in profile.points}
    for point in profile.points:
        _check_scale_factor(profile.source, point, names)
    if isinstance(profile.read_gap, bool) or not isinstance(profile.read_gap, int) or profile.read_gap < 0:
        raise ProfileError(f"{profile.source}: read_gap must be an int >= 0, got {profile.read_gap!r}")


def _check_auth(profile: Profile) -> None:
    if profile.sunspec is not None:
        raise ProfileError(f"{profile.source}: auth: a SunSpec profile cannot declare authenticated writes")
    try:
        check_auth_layout(profile.auth, profile.point, profile.has_role)
    except ProfileError as exc:
        raise ProfileError(f"{profile.source}: {exc}") from exc


def _check_sunspec(profile: Profile) -> None:
    if profile.points:
        raise ProfileError(f"{profile.source}: a SunSpec profile binds roles to model points; it lists no points")
    if not profile.bindings:
        raise ProfileError(f"{profile.source}: a SunSpec profile needs at least one role")
    _reject_duplicates(profile.source, [(f"role {b.role!r}", "role", b.role) for b in profile.bindings])
    for binding in profile.bindings:
        try:
            check_point_ref(binding.point, models=profile.sunspec.models)
        except ProfileError as exc:
            raise ProfileError(f"{profile.source}: role {binding.role!r}: {exc}") from exc


def _check_scale_factor(source: str, point: Point, names: Mapping[str, Point]) -> None:
    if point.scale_factor is None:
        return
    target = names.get(point.scale_factor)
    if target is None or target.type != "sunssf":
        raise ProfileError(
            f"{source}: point {point.name!r}: scale_factor {point.scale_factor!r} must name a sunssf point"
        )


def _reject_duplicates(source: str, entries: list[tuple[str, str, str]]) -> None:
    seen: set[str] = set()
    for label, attribute, value in entries:
        if value in seen:
            raise ProfileError(f"{source}: {label}: duplicate {attribute} {value!r}")
        seen.add(value)


def _reject_overlaps(source: str, points: tuple[Point, ...]) -> None:
    ordered = sorted(points, key=lambda point: point.address)
    for before, after in zip(ordered, ordered[1:]):
        if after.address < before.end:
            raise ProfileError(
                f"{source}: point {after.name!r}: {after.describe_registers()} overlap "
                f"point {before.name!r} ({before.describe_registers()})"
            )
