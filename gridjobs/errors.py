"""The gridjobs exception tree. Everything we raise derives from GridjobsError.

HTTP-facing errors carry a status and a problem type; the API's exception
handlers render them as application/problem+json (RFC 9457).
"""

from __future__ import annotations

from typing import Any


class GridjobsError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"
    chosen = False   # True: an answer the service chose (shedding load), not a failure to log

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the problem response carries besides its body."""
        return {}


class ConfigError(GridjobsError):
    title = "Configuration error"
    type_slug = "config"


class StoreError(GridjobsError):
    title = "Storage unavailable"
    type_slug = "store"
    status = 503


class StaleLeaseError(GridjobsError):
    """A write was refused because this process no longer holds the lease."""

    status = 409
    title = "Lease lost"
    type_slug = "stale-lease"


class BadRequest(GridjobsError):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"


class ValidationFailed(GridjobsError):
    status = 422
    title = "Validation failed"
    type_slug = "validation"


class NotFound(GridjobsError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(GridjobsError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class IdempotencyMismatch(GridjobsError):
    status = 422
    title = "Idempotency key reused with a different body"
    type_slug = "idempotency-mismatch"


class IdempotencyInFlight(Conflict):
    title = "Request with this idempotency key is in flight"
    type_slug = "idempotency-in-flight"


class PayloadTooLarge(GridjobsError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class Overloaded(GridjobsError):
    """Refused to keep the service answering: a full queue, or too many requests at once."""

    status = 503
    title = "Overloaded"
    type_slug = "overloaded"
    chosen = True

    def __init__(self, detail: str, *, retry_after_s: int,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail, extra={**(extra or {}), "retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class ExecutionError(GridjobsError):
    """The execution fabric (Ray) failed; the operation will be retried."""

    title = "Execution fabric unavailable"
    type_slug = "execution"
    status = 503
