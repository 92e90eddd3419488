"""What each problem `type` of the API means and what to do about it: the pages at
/problems/<code>, which the `type` URIs of application/problem+json answers name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemText:
    status: int
    title: str
    means: str
    todo: str


PROBLEMS: dict[str, ProblemText] = {
    "bad-request": ProblemText(400, "Bad request",
        "The request could not be read: a body that is not JSON, a query parameter given twice, "
        "a header that is not what it should be.",
        "Read `detail`: it names the part. Fix the request; sending it again unchanged fails again."),
    "validation": ProblemText(422, "Validation failed",
        "The request was read but a value breaks a rule of the schema (a missing field, a number out of "
        "range, an unknown parameter). `errors` lists each field and its rule.",
        "Fix every field listed in `errors`. /docs shows each schema."),
    "invalid-data": ProblemText(422, "Invalid data",
        "The database refused a value of the request, such as a NUL character in text.",
        "Remove the character or value that `detail` names."),
    "not-found": ProblemText(404, "Not found",
        "The resource does not exist, or it lies outside your area of responsibility (the two look the "
        "same on purpose).",
        "Check the id. If it should be yours, ask your security administrator about your token's feeders."),
    "unauthorized": ProblemText(401, "Unauthorized",
        "No valid identity: no `Authorization: Bearer …` header, or a token that is unknown, revoked or "
        "expired, or a JWT that does not verify.",
        "Send an API token (a security administrator creates one with `gridjobs tokens create`) or a JWT "
        "of the configured identity provider."),
    "forbidden": ProblemText(403, "Forbidden",
        "You are known, but none of your roles may do this, or it reaches feeders outside your area, or "
        "the two-person rule needs someone else. `missing_roles` or `feeders_outside_area` say which.",
        "Ask for a token with the role named in `detail`, or for someone who holds it."),
    "rate-limited": ProblemText(429, "Too many requests",
        "Your token spent its request budget; the `RateLimit` headers show it.",
        "Wait the seconds in `Retry-After`, then send again."),
    "conflict": ProblemText(409, "Conflict",
        "The request clashes with the resource's state: cancelling a finished operation, resuming one "
        "that is not paused, a name already taken. `existing` may name the resource.",
        "Read the resource's current state and decide again."),
    "idempotency-mismatch": ProblemText(422, "Idempotency key reused with a different body",
        "This `Idempotency-Key` was first used with another body. A key names one request.",
        "Use a new key for a new request; resend the first body to get its answer again."),
    "idempotency-in-flight": ProblemText(409, "Request with this idempotency key is in flight",
        "The first request with this key is still being handled.",
        "Retry in a moment: the answer will be the first request's."),
    "payload-too-large": ProblemText(413, "Payload too large",
        "The body is larger than this server accepts (GRIDJOBS_MAX_BODY_BYTES; firmware has its own bound).",
        "Send less: split a device import into batches."),
    "unsupported-media-type": ProblemText(415, "Unsupported media type",
        "A firmware upload must be sent as application/octet-stream.",
        "Send the image's bytes with `Content-Type: application/octet-stream`."),
    "range-not-satisfiable": ProblemText(416, "Range not satisfiable",
        "The requested byte range lies outside the firmware image.",
        "Ask for a range within the image's size."),
    "overloaded": ProblemText(503, "Overloaded",
        "The server chose to shed this request: its queue bound, in-flight bound or event stream bound "
        "is reached. An emergency shed is always admitted.",
        "Retry after the seconds in `Retry-After`."),
    "unavailable": ProblemText(503, "Service unavailable",
        "The server is stopping or not ready yet.",
        "Retry after `Retry-After`, or on another gridjobs process."),
    "store": ProblemText(503, "Storage unavailable",
        "PostgreSQL did not answer in time or refused the connection. Nothing was half written.",
        "Retry after `Retry-After`; check /readyz and the database."),
    "key-store": ProblemText(503, "Key store unavailable",
        "The device key store could not be read or written (the master key file or the database).",
        "Check the master key file and /readyz, then retry."),
    "key-conflict": ProblemText(409, "Key conflict",
        "Another change to the same device keys happened first.",
        "Read the keys' state again, then retry."),
    "execution": ProblemText(503, "Execution fabric unavailable",
        "Ray, which runs the device shards, is not reachable.",
        "Check RAY_ADDRESS or the local Ray, then retry."),
    "stale-lease": ProblemText(409, "Lease lost",
        "Another gridjobs process took over the operation; this one stopped writing for it.",
        "Nothing to do: the new owner carries on."),
    "config": ProblemText(500, "Configuration error",
        "A setting is missing or wrong.",
        "Fix the setting the detail names; `gridjobs --help` lists them."),
    "internal": ProblemText(500, "Internal error",
        "The server failed to handle the request. It was logged; no secret was in the answer.",
        "Report it with the time and the `instance` path."),
    "http-404": ProblemText(404, "Not found", "No route matches this path.",
        "Check the path against /docs."),
    "http-405": ProblemText(405, "Method not allowed",
        "The path exists but not with this method; `Allow` lists the methods it takes.",
        "Use one of the methods in `Allow`."),
    "http-413": ProblemText(413, "Payload too large", "The body is larger than this server accepts.",
        "Send less."),
}
