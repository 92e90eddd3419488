"""Key rotation parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from gridjobs.scope import Scope


class KeyRotationParams(BaseModel):
    """Rotate the command keys of every device in `scope` whose profile authenticates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope
    max_parallel: StrictInt = Field(default=20, ge=1, le=1000)
    failure_threshold_pct: StrictFloat = Field(default=20.0, ge=0, le=100)
    min_executed: StrictInt = Field(default=1, ge=1)
    device_timeout_s: StrictFloat = Field(default=30.0, gt=0, le=3600)
    approval: Literal["auto", "manual"] = Field(
        default="auto", description="manual: pause before the first device until another principal resumes")
