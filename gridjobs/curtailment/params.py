"""Parameters every curtailment operation shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from gridjobs.scope import Scope

MAX_HOLD_S = 24 * 3600
DEFAULT_REVERT_TIMEOUT_S = 60
MIN_REVERT_TIMEOUT_S = 3
MAX_REVERT_TIMEOUT_S = 65535
DEFAULT_SETTLE_S = 5.0
MAX_SETTLE_S = 120.0


class RestoreParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: StrictInt = Field(default=1, ge=1, le=100)
    stage_delay_s: StrictFloat = Field(default=0.0, ge=0, le=3600)


class CurtailmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope
    hold_s: StrictFloat | None = Field(
        ge=0, le=MAX_HOLD_S, description="seconds to hold; null holds until cancelled"
    )
    restore: RestoreParams = RestoreParams()
    revert_timeout_s: StrictInt = Field(
        default=DEFAULT_REVERT_TIMEOUT_S, ge=MIN_REVERT_TIMEOUT_S, le=MAX_REVERT_TIMEOUT_S,
        description="dead-man timer on each curtailed device; refreshed while holding",
    )
    verify_settle_s: StrictFloat = Field(
        default=DEFAULT_SETTLE_S, ge=0, le=MAX_SETTLE_S,
        description="how long a device may take to ramp down before verification fails",
    )
