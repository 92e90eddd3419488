"""A simulated SunSpec DER inverter (models 1, 103, 120, 121, 123).

Available power is ``rated * load_factor`` with repeatable noise (irradiance).
When ``WMaxLim_Ena`` is 1, output is limited to ``WMaxLimPct`` % of ``WMax``.
``W`` follows its target through the same ``LoadPhysics`` ramp as loads.
``WMaxLimPct_RvrtTms`` (armed by writing it, or by enabling the limit while it
is set) disables the limit when it runs out. Values are keyed by SunSpec point
name (``"123.WMaxLimPct"``); writes are counted per role where the profile
binds one, else per point.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from adapters import Profile

from .device_base import DeviceBase, Value
from .nameplate import NOMINAL_HZ, NOMINAL_PHASE_V, PHASES, nameplate
from .physics import LoadPhysics, PowerPath
from .spec import DeviceSpec
from .sunspec_image import header_values
from .timer import RevertTimer

LIMIT_PCT, LIMIT_TIMER, LIMIT_ENABLE = "123.WMaxLimPct", "123.WMaxLimPct_RvrtTms", "123.WMaxLim_Ena"
CONNECT, WMAX, POWER = "123.Conn", "121.WMax", "103.W"
NO_LIMIT_PCT = 100
ST_MPPT, ST_THROTTLED, ST_STANDBY = 4, 5, 8


class SimulatedInverter(DeviceBase):
    """Runtime state of one inverter, behind its SunSpec register image."""

    def __init__(
        self, *, spec: DeviceSpec, profile: Profile, image: Profile, physics: LoadPhysics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(spec=spec, profile=image, clock=clock)
        self._physics = spec.physics or physics
        self._fixed = {**header_values(), **nameplate(spec)}
        self._bindings = {binding.point: binding for binding in profile.bindings}
        self._settings: dict[str, Value] = {WMAX: self._fixed["120.WRtg"], CONNECT: 1,
                                            LIMIT_PCT: NO_LIMIT_PCT, LIMIT_TIMER: 0, LIMIT_ENABLE: 0}
        self._timer = RevertTimer()
        self._samples = 0
        self._path = PowerPath.steady(self._target_kw(), at=clock())
        self._energy_wh, self._energy_at = 0.0, clock()

    @property
    def setpoint_pct(self) -> int:
        """The limit in force: ``WMaxLimPct`` while enabled, else 100."""
        self._settle()
        return int(self._settings[LIMIT_PCT]) if self._settings[LIMIT_ENABLE] else NO_LIMIT_PCT

    def power_kw(self, now: float | None = None) -> float:
        self._settle()
        kw = self._physics.power_kw(self._path, now=self._clock() if now is None else now)
        return self._available_kw() if self._implausible() else kw

    def measured_kw(self) -> float:
        self._samples += 1
        noisy = self._physics.noisy(self.power_kw(), seed=self.spec.noise_seed, sample=self._samples)
        return noisy if self._implausible() else min(noisy, self._limit_kw())

    def value(self, role: str) -> Value | None:
        """The value of a SunSpec point in engineering units; None reads as "not implemented"."""
        if role in self._settings:
            self._settle()
            return self._settings[role]
        if role in self._fixed:
            return self._fixed[role]
        return self._measurement(role)

    def write(self, values: Mapping[str, Value]) -> None:
        """Apply one write request in address order, then (re)arm or stop the revert timer."""
        self._settle()
        now = self._clock()
        self._settings.update(values)
        if LIMIT_TIMER in values or values.get(LIMIT_ENABLE) == 1:
            self._timer.arm(timeout_s=int(self._settings[LIMIT_TIMER]), now=now)
        if values.get(LIMIT_ENABLE) == 0:
            self._timer.arm(timeout_s=0, now=now)
        self._retarget(at=now)
        self.counters.writes.update(self.as_roles(values).keys())

    def as_roles(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """Each SunSpec point's value as the profile's role sees it (``max_kw`` from ``121.WMax`` in W), else as is."""
        by_role: dict[str, Value] = {}
        for name, value in values.items():
            binding = self._bindings.get(name)
            if binding is None:
                by_role[name] = value
            else:
                by_role[binding.role] = value * binding.multiplier if binding.multiplier != 1 else value
        return by_role

    def _measurement(self, name: str) -> Value | None:
        match name:
            case "103.W":
                return self.measured_kw() * 1000
            case "103.A" | "103.AphA" | "103.AphB" | "103.AphC":
                per_phase = self.power_kw() * 1000 / (PHASES * NOMINAL_PHASE_V)
                return per_phase * (PHASES if name == "103.A" else 1)
            case "103.PhVphA" | "103.PhVphB" | "103.PhVphC":
                return NOMINAL_PHASE_V
            case "103.Hz":
                return NOMINAL_HZ
            case "103.St":
                return self._state()
            case "103.WH":
                return round(self._energy_wh_now())
        return None

    def _state(self) -> int:
        if not self._settings[CONNECT]:
            return ST_STANDBY
        return ST_THROTTLED if self._limit_kw() < self._available_kw() else ST_MPPT

    def _settle(self) -> None:
        if (expired_at := self._timer.take_expiry(self._clock())) is not None:
            if self._settings[LIMIT_ENABLE] and self._settings[LIMIT_PCT] < NO_LIMIT_PCT:
                self.counters.timer_releases += 1
            self._settings[LIMIT_ENABLE] = 0
            self._retarget(at=expired_at)

    def _retarget(self, *, at: float) -> None:
        self._path = self._physics.retarget(self._path, target_kw=self._target_kw(), at=at)
        self._record(at, int(self._settings[LIMIT_PCT]) if self._settings[LIMIT_ENABLE] else NO_LIMIT_PCT)

    def _available_kw(self) -> float:
        return self.spec.rated_kw * self.spec.load_factor

    def _limit_kw(self) -> float:
        wmax_kw = float(self._settings[WMAX]) / 1000
        if not self._settings[LIMIT_ENABLE]:
            return wmax_kw
        return wmax_kw * float(self._settings[LIMIT_PCT]) / 100

    def _target_kw(self) -> float:
        return min(self._available_kw(), self._limit_kw()) if self._settings[CONNECT] else 0.0

    def _energy_wh_now(self) -> float:
        now = self._clock()
        self._energy_wh += self.power_kw(now) * 1000 * max(0.0, now - self._energy_at) / 3600
        self._energy_at = now
        return self._energy_wh
