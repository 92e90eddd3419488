"""A simulated controllable load (``controllable_load``, ``feeder_controller``).

Setpoint, dead-man revert timer, breaker, and power that follows the setpoint
through ``LoadPhysics`` (immediately by default; with a ramp and a restore
surge when configured). Reads are computed when asked; the timer is lazy.

A profile with ``curtail_enable`` gets a gate, as SunSpec's ``WMaxLim_Ena``:
the setpoint is in force only while the gate is 1; opening the gate (re)arms
the timer, closing it stops the timer, and a timer that runs out closes it.
Without a gate a timer that runs out puts the setpoint back to 100 %.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from adapters import CURTAIL_ROLES, Profile, Role

from .device_base import Counters, DeviceBase, Value
from .errors import SpecError
from .physics import LoadPhysics, PowerPath
from .spec import DeviceSpec
from .timer import RevertTimer

__all__ = ["Counters", "SimulatedDevice", "Value"]

NORMAL_SETPOINT_PCT = 100
NOMINAL_VOLTAGE_V = 400.0
VOLTAGE_DROOP = 0.02  # fraction of nominal lost at full load
SETPOINT = Role.CURTAIL_SETPOINT_PCT
REVERT_TIMEOUT = Role.REVERT_TIMEOUT_S
ENABLE = Role.CURTAIL_ENABLE
BREAKER = Role.BREAKER_CLOSED
# The load model needs these roles; it also animates the optional ones, and any
# other point of a user's profile is a plain register that keeps what is written.
MODEL_ROLES = CURTAIL_ROLES
OPTIONAL_ROLES = frozenset({Role.REVERT_REMAINING_S, Role.RATED_KW, BREAKER, Role.VOLTAGE_V, Role.ENERGY_KWH,
                            Role.DEVICE_MODEL, ENABLE})
WRITABLE_ROLES = frozenset({SETPOINT, REVERT_TIMEOUT})


class SimulatedDevice(DeviceBase):
    """Runtime state of one load."""

    def __init__(
        self, *, spec: DeviceSpec, profile: Profile, physics: LoadPhysics, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _check_profile(spec, profile)
        super().__init__(spec=spec, profile=profile, clock=clock)
        self._physics = spec.physics or physics
        self._setpoint = NORMAL_SETPOINT_PCT  # the register; in force while the gate is open
        self._gated = profile.has_role(ENABLE)
        self._enabled = 0 if self._gated else 1
        self._breaker = 1
        self._timer = RevertTimer()
        self._samples = 0
        now = clock()
        self._path = PowerPath.steady(self._target_kw(), at=now)
        self._energy_kwh, self._energy_at = 0.0, now
        self._plain: dict[str, Value] = {}  # points the model does not animate

    @property
    def setpoint_pct(self) -> int:
        """The setpoint in force: the register's while the gate (if any) is open, else 100."""
        self._settle()
        return self._in_force()

    @property
    def revert_timeout_s(self) -> int:
        return self._timer.timeout_s

    @property
    def revert_remaining_s(self) -> int:
        self._settle()
        return self._timer.remaining_s(self._clock())

    def power_kw(self, now: float | None = None) -> float:
        """Noise-free power now (what a feeder meter integrates)."""
        self._settle()
        if self._implausible():
            return self.spec.rated_kw * self.spec.load_factor
        return self._physics.power_kw(self._path, now=self._clock() if now is None else now)

    def measured_kw(self) -> float:
        self._samples += 1
        return self._physics.noisy(self.power_kw(), seed=self.spec.noise_seed, sample=self._samples)

    def value(self, role: str) -> Value:
        """The current value of a profile role, in engineering units."""
        match role:
            case Role.CURTAIL_SETPOINT_PCT:
                self._settle()
                return self._setpoint
            case Role.CURTAIL_ENABLE:
                self._settle()
                return self._enabled
            case Role.REVERT_TIMEOUT_S:
                return self.revert_timeout_s
            case Role.REVERT_REMAINING_S:
                return self.revert_remaining_s
            case Role.RATED_KW:
                return self.rated_kw
            case Role.MEASURED_KW:
                return self.measured_kw()
            case Role.BREAKER_CLOSED:
                return self._breaker
            case Role.VOLTAGE_V:
                return round(NOMINAL_VOLTAGE_V * (1 - VOLTAGE_DROOP * self.power_kw() / self.rated_kw), 1)
            case Role.ENERGY_KWH:
                return round(self._energy())
            case Role.DEVICE_MODEL:
                return f"GJSIM {self.spec.profile[:10]}"
        if role not in self._plain_roles():
            raise KeyError(f"device {self.id!r} has no role {role!r}")
        return self._plain.get(role, 0)

    def _plain_roles(self) -> frozenset[str]:
        return frozenset(self.profile.roles) - MODEL_ROLES - OPTIONAL_ROLES

    def write(self, values: Mapping[str, Value]) -> None:
        """Apply one write request: breaker and setpoint first, then (re)arm the revert timer."""
        self._settle()
        now = self._clock()
        if BREAKER in values:
            self._breaker = int(values[BREAKER])
            self._retarget(at=now, restore=False)
        if SETPOINT in values or ENABLE in values:
            self._change(at=now, setpoint=values.get(SETPOINT), enabled=values.get(ENABLE))
        if REVERT_TIMEOUT in values:
            self._timer.arm(timeout_s=int(values[REVERT_TIMEOUT]), now=now)
        elif values.get(ENABLE) == 1:
            self._timer.arm(timeout_s=self._timer.timeout_s, now=now)
        if values.get(ENABLE) == 0:
            self._timer.stop()
        self._plain.update((r, v) for r, v in values.items() if r in self._plain_roles())
        self.counters.writes.update(values.keys())

    def _settle(self) -> None:
        if (expired_at := self._timer.take_expiry(self._clock())) is not None:
            before = self._in_force()
            if self._gated:
                self._change(at=expired_at, enabled=0)
            else:
                self._change(at=expired_at, setpoint=NORMAL_SETPOINT_PCT)
            if self._in_force() != before:
                self.counters.timer_releases += 1

    def _in_force(self) -> int:
        return self._setpoint if self._enabled else NORMAL_SETPOINT_PCT

    def _change(self, *, at: float, setpoint: Value | None = None, enabled: Value | None = None) -> None:
        before = self._in_force()
        if setpoint is not None:
            self._setpoint = int(setpoint)
        if enabled is not None:
            self._enabled = int(enabled)
        if (after := self._in_force()) != before:
            self._retarget(at=at, restore=after == NORMAL_SETPOINT_PCT > before)
            self._record(at, after)

    def _retarget(self, *, at: float, restore: bool) -> None:
        self._path = self._physics.retarget(self._path, target_kw=self._target_kw(), at=at, restore=restore)

    def _target_kw(self) -> float:
        return self.spec.rated_kw * self.spec.load_factor * self._in_force() / 100 * self._breaker

    def _energy(self) -> float:
        now = self._clock()
        self._energy_kwh += self.power_kw(now) * max(0.0, now - self._energy_at) / 3600
        self._energy_at = now
        return self._energy_kwh


def _check_profile(spec: DeviceSpec, profile: Profile) -> None:
    if profile.name != spec.profile:
        raise SpecError(f"device {spec.id!r}: wants profile {spec.profile!r}, got {profile.name!r}")
    roles = set(profile.roles)
    if not MODEL_ROLES <= roles:
        raise SpecError(f"profile {profile.name!r}: a simulated load needs roles {sorted(MODEL_ROLES)}, "
                        f"missing {sorted(MODEL_ROLES - roles)}")
    writable = {point.role for point in profile.points if point.writable}
    if not WRITABLE_ROLES <= writable:
        raise SpecError(f"profile {profile.name!r}: roles {sorted(WRITABLE_ROLES - writable)} must be writable")
