"""Load-shed parameters, validated once; the same model feeds /openapi.json."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gridjobs.scope import Scope

MAX_HOLD_S = 24 * 3600
DEFAULT_REVERT_TIMEOUT_S = 60
MIN_REVERT_TIMEOUT_S = 3
MAX_REVERT_TIMEOUT_S = 65535


class RestoreParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: int = Field(default=1, ge=1, le=100)
    stage_delay_s: float = Field(default=0.0, ge=0, le=3600)


class LoadShedParams(BaseModel):
    """Shed `target_kw` from `scope`, hold, then restore in stages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_kw: float = Field(gt=0, le=10_000_000, description="kW to shed")
    scope: Scope
    hold_s: float | None = Field(
        ge=0, le=MAX_HOLD_S, description="seconds to hold; null holds until cancelled"
    )
    restore: RestoreParams = RestoreParams()
    revert_timeout_s: int = Field(
        default=DEFAULT_REVERT_TIMEOUT_S, ge=MIN_REVERT_TIMEOUT_S, le=MAX_REVERT_TIMEOUT_S,
        description="dead-man timer on each curtailed device; refreshed while holding",
    )

