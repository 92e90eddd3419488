"""The states of an operation and of one device's outcome in it.

Declared once: the records, the API schemas (and so /openapi.json) and the
runners use these; a test checks them against the CHECK constraints of
schema.sql.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """An operation's status."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"          # waiting for POST .../resume (manual approval)
    CANCELLING = "cancelling"  # cancel requested while running: bringing devices back
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})
ACTIVE = frozenset(Status) - TERMINAL


class OutcomeState(enum.StrEnum):
    """Where one device stands in one operation."""

    PENDING = "pending"
    RUNNING = "running"        # a command is out, or the device is mid-way through its steps
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


VERDICTS = frozenset({OutcomeState.SUCCEEDED, OutcomeState.FAILED, OutcomeState.CANCELLED})
# The code of a device an operation let go of before it was done with it (cancelled, aborted).
CANCELLED_CODE = "cancelled"
