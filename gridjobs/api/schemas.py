"""Request and response schemas: they validate requests and generate /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt
from pydantic import StringConstraints

from gridjobs.records import Device, FirmwareArtifact, Operation, Outcome, phase_fields
from gridjobs.states import OutcomeState, Status
from gridjobs.validation import text

DEVICE_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=DEVICE_ID_PATTERN)]
ProfileName = text(max_length=64)
FeederName = text(max_length=128)
SegmentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
MAX_DEVICES_PER_BATCH = 5_000  # ~1 MiB of JSON: the body limit


class DeviceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: ProfileName
    host: text(max_length=255)
    port: StrictInt = Field(ge=1, le=65535)
    unit_id: StrictInt = Field(ge=0, le=255)
    feeder: FeederName
    shed_priority: StrictInt = Field(ge=1, le=1000, description="1 is shed first")
    protected: StrictBool = Field(default=False, description="never shed")
    rated_kw: StrictFloat = Field(ge=0, le=1_000_000)
    segment: SegmentName | None = Field(
        default=None, description="network segment (e.g. a substation) whose Ray nodes drive it; "
                                  "README \"Running on a cluster\"")


class DeviceUpdate(DeviceFields):
    """The body of PUT /v1/devices/{id}: the fields, and the id only if it repeats the path's."""

    id: DeviceId | None = Field(default=None, description="if given, the id in the path")


class DeviceIn(DeviceFields):
    id: DeviceId

    def to_record(self) -> Device:
        return Device(**self.model_dump())


class DeviceOut(DeviceIn):
    @classmethod
    def of(cls, device: Device) -> dict[str, Any]:
        shown = device.as_dict()
        if shown["segment"] is None:   # no segment: the body as it was before segments existed
            del shown["segment"]
        return shown


class ProgressOut(BaseModel):
    total: int
    succeeded: int
    failed: int
    pending: int
    phase: str | None = Field(default=None, description="a curtailment's phase: shed, hold or restore")
    hold_until: float | None = Field(default=None, description="when the hold ends (Unix time); "
                                     "absent in a hold until cancelled")
    wave: int | None = Field(default=None, description="a rollout's waves done so far")
    waves: int | None = Field(default=None, description="a rollout's number of waves")


class ErrorOut(BaseModel):
    code: str
    detail: str | None


class CallbackOut(BaseModel):
    webhook_id: UUID


class OperationOut(BaseModel):
    id: UUID
    kind: str
    status: Status
    priority: int
    params: dict[str, Any]
    progress: ProgressOut
    result: dict[str, Any] | None
    error: ErrorOut | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    feeders: list[str] = Field(description="the feeders its scope reached when it was submitted")
    submitted_by: str | None = Field(description="the token name or JWT subject that submitted it")
    cancelled_by: str | None
    resumed_by: str | None
    callback: CallbackOut | None = Field(description="the webhook that gets every event of it, if any")

    @classmethod
    def of(cls, op: Operation) -> dict[str, Any]:
        p = op.progress
        return {
            "id": str(op.id), "kind": op.kind, "status": op.status, "priority": op.priority,
            "params": op.params,
            "progress": {"total": p.total, "succeeded": p.succeeded, "failed": p.failed,
                         "pending": p.pending, **phase_fields(op.checkpoint)},
            "result": op.result,
            "error": {"code": op.error_code, "detail": op.error_detail} if op.error_code else None,
            "created_at": _iso(op.created_at), "started_at": _iso(op.started_at),
            "finished_at": _iso(op.finished_at), "feeders": list(op.feeders),
            "submitted_by": op.submitted_by, "cancelled_by": op.cancelled_by,
            "resumed_by": op.resumed_by,
            "callback": {"webhook_id": str(op.callback_webhook_id)} if op.callback_webhook_id else None,
        }


class OutcomeOut(BaseModel):
    device_id: str
    state: OutcomeState
    step: str
    code: str | None
    detail: str | None
    attempts: int
    updated_at: datetime | None

    @classmethod
    def of(cls, o: Outcome) -> dict[str, Any]:
        return {"device_id": o.device_id, "state": o.state, "step": o.step, "code": o.code,
                "detail": o.detail, "attempts": o.attempts, "updated_at": _iso(o.updated_at)}


class DryRunOut(BaseModel):
    """What POST /v1/operations?dry_run=true answers: the plan, nothing queued."""

    dry_run: Literal[True]
    kind: str
    plan: dict[str, Any] = Field(description="the kind's plan: devices, waves, shortfall…")


class OperationPage(BaseModel):
    items: list[OperationOut]
    next_cursor: str | None


class UpsertedOut(BaseModel):
    upserted: int = Field(description="devices written (all of the batch)")


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


class OutcomePage(BaseModel):
    items: list[OutcomeOut]
    next_cursor: str | None


FirmwareVersion = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")]


class FirmwareQuery(BaseModel):
    """The query of POST /v1/firmware; the body is the image (application/octet-stream)."""

    version: FirmwareVersion = Field(description="the version the image reports once active")
    profile: ProfileName = Field(
        description="a device profile with the firmware_version, fw_chunk_data and fw_activate roles")


class FirmwareOut(BaseModel):
    id: UUID
    version: str
    profile: str
    sha256: str
    size: int
    created_at: datetime

    @classmethod
    def of(cls, artifact: FirmwareArtifact) -> dict[str, Any]:
        return {"id": str(artifact.id), "version": artifact.version, "profile": artifact.profile,
                "sha256": artifact.sha256, "size": artifact.size,
                "created_at": _iso(artifact.created_at)}


class FirmwarePage(BaseModel):
    items: list[FirmwareOut]
    next_cursor: str | None


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="each dependency: 'ok' or why not")


class FieldError(BaseModel):
    field: str = Field(description="where: a dotted path into the body, or a parameter name")
    message: str


class Problem(BaseModel):
    """An error (RFC 9457); `detail` and each message quote at most 1,000 characters."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    existing: str | None = Field(default=None, description="the resource a conflict is about")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
