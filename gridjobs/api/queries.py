"""Query strings and cursors, declared once: they validate requests and document /openapi.json.

A cursor is base64url JSON the API wrote itself; its shape is checked like any
input, so a forged one is a 422, never a value the database has to refuse.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from pydantic import TypeAdapter

from gridjobs.api.schemas import DeviceId, FeederName, ProfileName
from gridjobs.kinds import KINDS
from gridjobs.states import Status
from gridjobs.validation import text

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_CHARS = 512
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1

Cursor = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_CHARS,
                                          pattern=r"^[A-Za-z0-9_-]+$")]
KindName = Literal[tuple(KINDS)]  # type: ignore[valid-type]


class Page(BaseModel):
    """`limit` and `cursor`, as on every list."""

    model_config = ConfigDict(extra="forbid")   # an unknown parameter is a mistake, not a filter to skip

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page")
    cursor: Cursor | None = Field(default=None, description="`next_cursor` of the previous page")


class OperationsQuery(Page):
    kind: KindName | None = Field(default=None, description="only operations of this kind")
    status: Status | None = Field(default=None, description="only operations in this status")


class DevicesQuery(Page):
    feeder: FeederName | None = Field(default=None, description="only devices on this feeder")
    profile: ProfileName | None = Field(default=None, description="only devices of this profile")


class FirmwareListQuery(Page):
    profile: ProfileName | None = Field(default=None, description="only images for this profile")


class AuditQuery(Page):
    device_id: DeviceId | None = Field(default=None, description="only this device")
    operation_id: UUID | None = Field(default=None, description="only this operation")


class RequestAuditQuery(Page):
    principal: text(max_length=160) | None = Field(default=None, description="only this principal")


class SubmitQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")   # an unknown parameter is a mistake, not a filter to skip

    dry_run: bool = Field(default=False, description="plan the operation (200) instead of queueing it")


# What each list's next_cursor holds.
NEWEST_FIRST = TypeAdapter(tuple[AwareDatetime, UUID])   # (created_at, id) of the last item
BY_DEVICE_ID = TypeAdapter(tuple[DeviceId])               # the last device id
BY_SEQ = TypeAdapter(tuple[Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]])
BY_AUDIT_ID = TypeAdapter(tuple[Annotated[StrictInt, Field(ge=0, le=INT64_MAX)]])
