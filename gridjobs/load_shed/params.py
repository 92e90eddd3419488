"""Load-shed parameters, validated once; the same model feeds /openapi.json."""

from __future__ import annotations

from pydantic import Field, StrictFloat

from gridjobs.curtailment.params import CurtailmentParams, RestoreParams

__all__ = ["LoadShedParams", "RestoreParams"]


class LoadShedParams(CurtailmentParams):
    """Shed `target_kw` from `scope`, hold, then restore in stages."""

    target_kw: StrictFloat = Field(gt=0, le=10_000_000, description="kW to shed")
