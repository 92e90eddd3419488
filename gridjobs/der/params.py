"""DER curtailment parameters."""

from __future__ import annotations

from pydantic import Field, StrictFloat, model_validator

from gridjobs.curtailment.params import CurtailmentParams


class DerCurtailmentParams(CurtailmentParams):
    """Limit generation in `scope` to `limit_kw`, or reduce it by `reduce_kw`."""

    limit_kw: StrictFloat | None = Field(default=None, ge=0, le=10_000_000,
                                   description="cap on the scope's total generation")
    reduce_kw: StrictFloat | None = Field(default=None, gt=0, le=10_000_000,
                                    description="generation to take off the scope")

    @model_validator(mode="after")
    def _exactly_one(self) -> "DerCurtailmentParams":
        if (self.limit_kw is None) == (self.reduce_kw is None):
            raise ValueError("give exactly one of 'limit_kw' or 'reduce_kw'")
        return self
