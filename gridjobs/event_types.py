"""The event types of the outbox, declared once: the SQL that writes them, the
webhook and stream filters, /openapi.json and the README use these names.

Types are full-stop delimited, as Standard Webhooks recommends; a payload is the
envelope {"type", "timestamp", "data"} with small data (ids, status, counts, codes).
"""

from __future__ import annotations

import enum


class EventType(enum.StrEnum):
    OPERATION_ACCEPTED = "operation.accepted"
    OPERATION_STARTED = "operation.started"
    OPERATION_PAUSED = "operation.paused"
    OPERATION_RESUMED = "operation.resumed"
    OPERATION_PROGRESS = "operation.progress"     # at most one a second per phase; a new phase at once
    OPERATION_SUCCEEDED = "operation.succeeded"
    OPERATION_FAILED = "operation.failed"
    OPERATION_CANCELLED = "operation.cancelled"
    DEVICE_FAILED = "device.failed"               # per device, with its fault code
    ROLLOUT_WAVE_STARTED = "rollout.wave_started"
    ROLLOUT_ABORTED = "rollout.aborted"
    WEBHOOK_DISABLED = "webhook.disabled"         # to the endpoint owner's other endpoints and streams


TERMINAL_EVENTS = frozenset({EventType.OPERATION_SUCCEEDED, EventType.OPERATION_FAILED,
                             EventType.OPERATION_CANCELLED})
