"""Intake: validate a submitted operation and persist it, or plan it (dry run)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from uuid import UUID

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter

from gridjobs.access import policy
from gridjobs.access.policy import Action
from gridjobs.access.roles import Principal
from gridjobs.admission.decide import Decision
from gridjobs.admission.gate import QueueGate
from gridjobs.admission.lanes import Lane, lane_of
from gridjobs.admission.refusal import refusal
from gridjobs.config import EMERGENCY_PRIORITY
from gridjobs.errors import Forbidden, ValidationFailed, quoted
from gridjobs.kinds import KINDS, OperationKind
from gridjobs.metrics import ADMISSION_REFUSED
from gridjobs.profiles import ProfileCatalog
from gridjobs.store.device_index import DeviceIndex
from gridjobs.store.group_commit import GroupCommit
from gridjobs.store.operations import NewOperation, Submitted, accepted_before, submit
from gridjobs.validation import text, validate
from gridjobs.webhooks.endpoints import Owner, check_callback

MAX_KEY_LENGTH = 255
MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = -100, 100, 0
IdempotencyKey = text(max_length=MAX_KEY_LENGTH)
_KEY_ADAPTER = TypeAdapter(IdempotencyKey)   # built once: a TypeAdapter builds its schema when made


class CallbackIn(BaseModel):
    """Where this operation's events go besides the subscriptions: a webhook of the submitter's."""

    model_config = ConfigDict(extra="forbid")

    webhook_id: UUID = Field(description="a registered webhook of the submitting principal "
                                         "(POST /v1/webhooks); it gets every event of this operation")


class OperationIn(BaseModel):
    """A submission: the kind, its params (validated by the kind's own model), a priority and
    optionally a callback webhook."""

    model_config = ConfigDict(extra="forbid")

    kind: text(max_length=64) = Field(description="operation kind, e.g. load_shed")
    params: dict[str, Any]
    priority: StrictInt = Field(default=DEFAULT_PRIORITY, ge=MIN_PRIORITY, le=MAX_PRIORITY,
                          description="higher runs first")
    callback: CallbackIn | None = Field(default=None, description="send this operation's events to a webhook")


@dataclass(frozen=True)
class Checked:
    kind: OperationKind
    new: NewOperation
    params: Any


def check(body: Any, kinds: Mapping[str, OperationKind] = KINDS, *,
          submitted_by: str | None = None) -> Checked:
    op_in = validate(OperationIn, body)
    kind = kinds.get(op_in.kind)
    if kind is None:
        known = ", ".join(sorted(kinds))
        raise ValidationFailed(f"unknown operation kind {quoted(op_in.kind)}; known kinds: {known}",
                               extra={"errors": [{"field": "kind", "message": f"must be one of {known}"}]})
    params = validate(kind.params_model, op_in.params, prefix="params.")
    new = NewOperation(kind.name, op_in.priority, params.model_dump(mode="json"), submitted_by=submitted_by,
                       callback_webhook_id=op_in.callback.webhook_id if op_in.callback else None)
    return Checked(kind, new, params)


def request_hash(body: Any) -> str:
    """SHA-256 of the body's canonical text: json.dumps's, keys sorted, no spaces, ASCII."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


# Where orjson's text may differ from json.dumps's: DEL (json escapes it), floats under
# 1e-4 (json writes an exponent) and negative exponents (json pads them to two digits).
_ORJSON_DIFFERS = (b"\x7f", b"0.0000", b"e-")


def canonical_json(body: Any) -> bytes:
    """json.dumps(body, sort_keys=True, separators=(",", ":")), the form every stored key's
    hash was made of, by orjson (several times faster) wherever the two texts are the same."""
    try:
        text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:   # an integer past 64 bits
        text = None
    if text is not None and text.isascii() and not any(p in text for p in _ORJSON_DIFFERS):
        return text
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def check_key(key: str | None) -> str | None:
    """Idempotency-Key (or X-Request-ID): 1 to MAX_KEY_LENGTH printable characters."""
    if key is None:
        return None
    return validate(_KEY_ADAPTER, key, prefix="Idempotency-Key")


@dataclass(frozen=True)
class Caller:
    """Who submits, and the budget their submission spends (None: not rate limited)."""

    principal: Principal
    spend: Callable[[Principal], None] | None = None
    emergency_priority: int = EMERGENCY_PRIORITY

    def authorize(self, checked: Checked) -> None:
        """The kind's role (403), then the rate budget (429); an emergency shed spends none."""
        policy.require_kind(self.principal, Action.SUBMIT, checked.kind.name)
        lane = lane_of(checked.new.kind, checked.new.priority, emergency_priority=self.emergency_priority)
        if self.spend is not None and lane is not Lane.GRID:
            self.spend(self.principal)


async def accept(pool: asyncpg.Pool, body: Any, *, key: str | None, profiles: ProfileCatalog,
                 caller: Caller, gate: QueueGate | None = None, reserved_slot: bool = False,
                 index: DeviceIndex | None = None, batcher: GroupCommit | None = None) -> Submitted:
    """Validate, authorize, admit by lane (`gate`; None admits everything), check the scope
    (against `index`, the registry in memory, when there is one) and the area of
    responsibility, then store in one statement (in the next group commit, with `batcher`).

    `reserved_slot`: the request holds an in-flight slot kept for the grid lane.
    """
    checked = check(body, submitted_by=caller.principal.name)
    key = check_key(key)
    caller.authorize(checked)
    if gate is None:
        return await _store(pool, checked, body, key, profiles, caller.principal, index, batcher)
    decision = gate.take(checked.new.kind, checked.new.priority, reserved_slot=reserved_slot)
    if not decision.admitted:
        return await _refused(pool, body, key, decision, caller.principal)
    committed = False
    try:
        submitted = await _store(pool, checked, body, key, profiles, caller.principal, index, batcher)
        committed = not submitted.replayed
    finally:
        gate.settle(decision, committed=committed)
    return submitted


async def _store(pool: asyncpg.Pool, checked: Checked, body: Any, key: str | None,
                 profiles: ProfileCatalog, principal: Principal, index: DeviceIndex | None,
                 batcher: GroupCommit | None) -> Submitted:
    async def in_scope(conn: asyncpg.Connection | asyncpg.Pool) -> frozenset[str]:
        if index is not None and index.usable:
            try:
                return await _scope_feeders(index.view(conn), checked, profiles, principal)
            except (ValidationFailed, Forbidden):
                pass   # a refusal is only believed from the registry itself (the index may lag)
        return await _scope_feeders(conn, checked, profiles, principal)

    submitted = await submit(pool, checked.new, validate=in_scope, idempotency_key=key,
                             request_hash=request_hash(body), batcher=batcher)
    if submitted.replayed:  # a key is no way into another principal's area
        policy.require_area(principal, set(submitted.operation.feeders), "the operation")
    return submitted


async def _scope_feeders(conn: asyncpg.Connection | asyncpg.Pool, checked: Checked, profiles: ProfileCatalog,
                         principal: Principal) -> frozenset[str]:
    """The scope's feeders: checked by the kind (422), then against the principal's area (403);
    then the callback, which must name a webhook of the principal's (422, 403)."""
    feeders = frozenset(d.feeder for d in await checked.kind.check(conn, checked.params, profiles))
    policy.require_area(principal, feeders, "the scope")
    if checked.new.callback_webhook_id is not None:
        await check_callback(conn, Owner(principal.name, principal.feeders), checked.new.callback_webhook_id)
    return feeders


async def _refused(pool: asyncpg.Pool, body: Any, key: str | None, decision: Decision,
                   principal: Principal) -> Submitted:
    """A retry of a submission that was accepted gets its replay; anything else is refused."""
    if key is not None:
        before = await accepted_before(pool, key, request_hash(body))
        if before is not None:
            policy.require_area(principal, set(before.feeders), "the operation")
            return Submitted(before, replayed=True)
    ADMISSION_REFUSED.labels(decision.lane.value, str(decision.refused)).inc()
    raise refusal(decision)


async def plan(pool: asyncpg.Pool, body: Any, *, profiles: ProfileCatalog, caller: Caller) -> dict[str, Any]:
    """The dry run: checked and authorized like a submission, then planned; nothing written."""
    checked = check(body)
    caller.authorize(checked)
    async with pool.acquire() as conn:
        await _scope_feeders(conn, checked, profiles, caller.principal)
    return {"dry_run": True, "kind": checked.kind.name,
            "plan": await checked.kind.dry_run(pool, checked.params, profiles)}
