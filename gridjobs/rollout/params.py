"""Firmware rollout parameters."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StringConstraints
from pydantic import field_validator

from gridjobs.errors import quoted
from gridjobs.scope import Scope

DEFAULT_WAVES = ("1%", "10%", "50%", "100%")
_PERCENT = re.compile(r"^([0-9]{1,3}(?:\.[0-9]+)?)%$")

Wave = Annotated[Annotated[str, StringConstraints(pattern=_PERCENT.pattern)] | StrictInt,
                 Field(description="cumulative share ('10%') or count (25) of the fleet")]


class FirmwareRolloutParams(BaseModel):
    """Roll `firmware_id` out to `scope`: canary first, then waves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    firmware_id: UUID
    scope: Scope
    waves: list[Wave] = Field(default=list(DEFAULT_WAVES), min_length=1, max_length=20)
    max_parallel: StrictInt = Field(default=10, ge=1, le=1000)
    failure_threshold_pct: StrictFloat = Field(default=20.0, ge=0, le=100)
    min_executed: StrictInt = Field(default=1, ge=1)
    soak_s: StrictFloat = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    device_timeout_s: StrictFloat = Field(default=300.0, gt=0, le=24 * 3600)
    retries: StrictInt = Field(default=1, ge=0, le=5)
    approval: Literal["auto", "manual"] = "auto"

    @field_validator("waves")
    @classmethod
    def _waves_grow(cls, waves: list[str | int]) -> list[str | int]:
        shares = [(isinstance(w, int), _share(w)) for w in waves]
        # counts and percentages compare only among themselves (their sizes depend on the fleet)
        if any(a[0] == b[0] and b[1] < a[1] for a, b in zip(shares, shares[1:])):
            raise ValueError("waves are cumulative and must not shrink")
        return waves


def _share(wave: str | int) -> float:
    """A wave as a comparable number: a count as-is, a percentage as a fraction."""
    if isinstance(wave, int):
        if wave < 1:
            raise ValueError(f"a wave count must be >= 1, got {wave}")
        return float(wave)
    match = _PERCENT.match(wave)
    if match is None or not 0 < float(match[1]) <= 100:
        raise ValueError(f"a wave is a count or a percentage like '10%', got {quoted(wave)}")
    return float(match[1]) / 100


def wave_size(wave: str | int, fleet: int) -> int:
    """Cumulative number of devices a wave reaches."""
    if isinstance(wave, int):
        return min(wave, fleet)
    return min(fleet, max(1, -(-int(_share(wave) * fleet * 1000) // 1000)))
