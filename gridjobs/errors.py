"""The gridjobs exception tree. Everything we raise derives from GridjobsError.

HTTP-facing errors carry a status and a problem type; the API's exception
handlers render them as application/problem+json (RFC 9457).
"""

from __future__ import annotations

from typing import Any

QUOTE_LIMIT = 200     # characters of a client's value an error message may quote
MESSAGE_LIMIT = 1000  # characters of any one message an error carries


def excerpt(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` fit for an error message: non-printables escaped, cut at `limit` with "…"."""
    head = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit + 1])
    return head if len(head) <= limit else head[:limit] + "…"


def quoted(value: Any) -> str:
    """A client's value as an error message quotes it: repr, at most QUOTE_LIMIT characters."""
    if isinstance(value, str) and len(value) > QUOTE_LIMIT:
        return repr(value[:QUOTE_LIMIT])[:-1] + "…'"
    shown = repr(value)
    return shown if len(shown) <= QUOTE_LIMIT else shown[:QUOTE_LIMIT] + "…"


class GridjobsError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"
    chosen = False   # True: an answer the service chose (shedding load), not a failure to log

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}   # sent with the problem (WWW-Authenticate, Retry-After)


class ConfigError(GridjobsError):
    title = "Configuration error"
    type_slug = "config"


class StoreError(GridjobsError):
    title = "Storage unavailable"
    type_slug = "store"
    status = 503


class InvalidData(GridjobsError):
    """The database refused a value of the request (a NUL character, a number out of range)."""

    status = 422
    title = "Invalid data"
    type_slug = "invalid-data"


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


class Unauthorized(GridjobsError):
    """No valid identity: missing, malformed, unknown, expired or revoked credentials."""

    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="gridjobs"'})


class Forbidden(GridjobsError):
    """A known principal without the role, or outside its area of responsibility."""

    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class RateLimited(GridjobsError):
    status = 429
    title = "Too many requests"
    type_slug = "rate-limited"


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
        super().__init__(detail, extra={**(extra or {}), "retry_after_s": retry_after_s},
                         headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class Unavailable(GridjobsError):
    """Something this process cannot do as configured (webhooks without a master key)."""

    status = 503
    title = "Service unavailable"
    type_slug = "unavailable"
    chosen = True


class ExecutionError(GridjobsError):
    """The execution fabric (Ray) failed; the operation will be retried."""

    title = "Execution fabric unavailable"
    type_slug = "execution"
    status = 503
