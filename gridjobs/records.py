"""Frozen records read from Postgres. Every one is built with `from_row()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from uuid import UUID

from gridjobs.states import TERMINAL, OutcomeState, Status


@dataclass(frozen=True)
class Device:
    id: str
    profile: str
    host: str
    port: int
    unit_id: int
    feeder: str
    shed_priority: int
    protected: bool
    rated_kw: float
    segment: str | None = None   # README "Running on a cluster"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Device":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Progress:
    total: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.succeeded - self.failed


def phase_fields(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """What the progress shows of a run's checkpoint: the curtailment phase (shed, hold,
    restore) and when the hold ends (epoch seconds), or the rollout wave k of n. Keys with
    no value are left out; gridjobs/store/sql/queries.sql (progress_event) picks the same."""
    waves = checkpoint.get("waves")
    shown = {"phase": checkpoint.get("phase"), "hold_until": checkpoint.get("hold_until"),
             "wave": checkpoint.get("wave"), "waves": len(waves) if isinstance(waves, list) else None}
    return {k: v for k, v in shown.items() if v is not None}


@dataclass(frozen=True)
class Operation:
    id: UUID
    kind: str
    status: Status
    priority: int
    params: dict[str, Any]
    result: dict[str, Any] | None
    error_code: str | None
    error_detail: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    checkpoint: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    fence: int = 0
    progress: Progress = Progress()
    feeders: tuple[str, ...] = ()        # the scope's feeders, when it was submitted
    submitted_by: str | None = None      # who: a token's name or a JWT's subject
    cancelled_by: str | None = None
    resumed_by: str | None = None
    callback_webhook_id: UUID | None = None   # a webhook that gets every event of it

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Operation":
        keys = set(row.keys())   # once: a Record's keys() is a fresh iterator each call
        values = {k: row[k] for k in cls.__dataclass_fields__ if k != "progress" and k in keys}
        values["status"] = Status(values["status"])
        values["feeders"] = tuple(values.get("feeders") or ())
        if "total" in keys:
            values["progress"] = Progress(row["total"], row["succeeded"], row["failed"])
        return cls(**values)


@dataclass(frozen=True)
class Outcome:
    """One device's outcome in one operation: what a runner's ledger holds, what it
    records (fenced) and what the API reads back. `seq` orders devices by when they
    entered the operation; `data` is the runner's own notes (readings, commands)."""

    device_id: str
    state: OutcomeState
    step: str
    seq: int
    code: str | None = None
    detail: str | None = None
    attempts: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    def changed(self, **changes: Any) -> "Outcome":
        """As `dataclasses.replace`, without a pass through `__init__`: a runner's ledger
        makes two of these per device and step, tens of thousands in a large shed."""
        if unknown := changes.keys() - self.__dataclass_fields__.keys():
            raise TypeError(f"Outcome has no field(s) {sorted(unknown)}")
        outcome = object.__new__(Outcome)
        outcome.__dict__.update(self.__dict__, **changes)   # frozen: filled in, never changed
        return outcome

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Outcome":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        return cls(**{**values, "state": OutcomeState(values["state"]), "data": values["data"] or {}})


@dataclass(frozen=True)
class FirmwareArtifact:
    id: UUID
    version: str
    profile: str
    sha256: str
    size: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "FirmwareArtifact":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})
