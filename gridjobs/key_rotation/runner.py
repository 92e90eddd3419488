"""Carry out a key rotation, make before break, in batches.

Per device: generate the new key and store it (pending) before anything is
sent; then, round by round, read the device's slots and make the next move
(pure `next_move`): stage, verify, activate, confirm, retire. Every move is
recorded and audited before the next. A failure before retire rolls the
device back to its old key. The store keeps both keys until the device has
retired the old one, so the device always accepts a key the store holds.
"""

from __future__ import annotations

import os
from typing import Iterable

from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from actors.step_names import Step
from actors.tasks import DeviceResult
from adapters import AuthKey, FaultCode, KeySlots
from gridjobs.device_keys.audit import AuditEntry
from gridjobs.errors import ConfigError
from gridjobs.key_rotation.decide import Move, next_move, undo
from gridjobs.key_rotation.params import KeyRotationParams
from gridjobs.ledger import Ledger
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Device, Outcome
from gridjobs.run.context import Finish, RunContext, device_task
from gridjobs.run.gating import Tally, batches, should_abort
from gridjobs.run.ports import KeyStorePort
from gridjobs.run.retry import RetryRule
from gridjobs.states import CANCELLED_CODE, VERDICTS, OutcomeState, Status

KEY_BYTES = 32
MAX_ROUNDS = 8       # five forward moves, with room for a retried one
ROLLBACK_ROUNDS = 3
ROTATION_STATES = ("active", "pending", "previous")
RETRY = RetryRule()


def rotation_targets(devices: Iterable[Device], profiles: ProfileCatalog) -> list[str]:
    """The devices of the scope whose profile authenticates commands, in batch order."""
    return sorted(d.id for d in devices if profiles.requires_auth(d.profile))


class RotationRun:
    def __init__(self, ctx: RunContext, params: KeyRotationParams) -> None:
        if ctx.key_store is None:
            raise ConfigError("key rotation needs the key store: gridjobs has no master key "
                              "(GRIDJOBS_MASTER_KEY_FILE)")
        self.ctx, self.params = ctx, params
        self.key_store: KeyStorePort = ctx.key_store
        self.ledger = Ledger()
        self.devices: dict[str, Device] = {}
        self._secrets: dict[str, dict[int, bytes]] = {}

    async def run(self) -> Finish:
        ctx = self.ctx
        self.ledger = Ledger(await ctx.lease.outcomes())
        in_scope = {d.id: d for d in await ctx.devices.in_scope(self.params.scope)}
        self.devices = {d: in_scope[d] for d in rotation_targets(in_scope.values(), ctx.profiles)}
        todo = [d for d in self.devices if not self._finished(d)]
        if not await self._approved():
            await self._never_started(todo, aborted=False)
            return self._finish(aborted=False)
        aborted = False
        for batch in batches(todo, self.params.max_parallel):
            if ctx.cancelled:
                break
            await self._rotate(list(batch))
            if aborted := should_abort(self._tally(), threshold_pct=self.params.failure_threshold_pct,
                                       min_executed=self.params.min_executed):
                break
        await self._never_started(todo, aborted)
        return self._finish(aborted)

    async def _approved(self) -> bool:
        """With manual approval, wait (paused) before the first device; False if cancelled."""
        if self.params.approval != "manual" or self.ctx.checkpoint.get("approved"):
            return True
        self.ctx.log.info("rotation_paused", reason="manual approval")
        if not await self.ctx.pause_until_resumed():
            return False
        await self.ctx.save_checkpoint(approved=True)
        return True

    def _finished(self, device_id: str) -> bool:
        return device_id in self.ledger and self.ledger.get(device_id).state in VERDICTS

    # -- one batch ------------------------------------------------------------------

    async def _rotate(self, batch: list[str]) -> None:
        await self._prepare(batch)
        live = await self._rounds(list(batch), MAX_ROUNDS)
        if live:  # forward moves ran out: take the rest back to their old keys
            await self._roll_back(live, reason="the rotation did not complete in time")
            live = await self._rounds(live, ROLLBACK_ROUNDS)
        await self._unreachable(live)

    async def _rounds(self, live: list[str], rounds: int) -> list[str]:
        for _ in range(rounds):
            slots = await self._slots(live)
            moves = {d: self._move(d, slots[d]) for d in live if d in slots}
            await self._settle(moves)
            live = [d for d in live if not self._finished(d)]
            if not live:
                break
            await self._send({d: m for d, m in moves.items() if d in live})
        return live

    async def _unreachable(self, device_ids: list[str]) -> None:
        """Devices we could not finish with: both keys stay in the store."""
        await self._persist([self.ledger.set(
            d, state=OutcomeState.FAILED, code=self.ledger.get(d).code or FaultCode.DEVICE_TIMEOUT,
            detail="could not complete or roll back; the store keeps both key versions, "
                   "one of which the device accepts") for d in device_ids], [])

    async def _prepare(self, batch: list[str]) -> None:
        """Generate and store each device's new key (pending) before any command."""
        writes, audit = [], []
        held = await self.key_store.held(batch, states=ROTATION_STATES)
        for device_id in batch:
            if "new" in self.ledger.data(device_id):
                continue  # generated by an earlier owner of this operation
            old = max(k.version for k in held[device_id] if k.state == "active")
            new = max(k.version for k in held[device_id]) + 1
            await self.key_store.put(device_id, new, os.urandom(KEY_BYTES), "pending")
            writes.append(self.ledger.set(device_id, state=OutcomeState.RUNNING, step="generate",
                                          data={"old": old, "new": new}))
            audit.append(AuditEntry(self.ctx.operation_id, device_id, "generate", new, "ok"))
        await self._persist(writes, audit)

    async def _slots(self, device_ids: list[str]) -> dict[str, KeySlots]:
        results = await self._call(Step.KEY_SLOTS, {d: {} for d in device_ids})
        failed = [r for r in results if not r.ok]
        await self._persist([self.ledger.set(r.device_id, code=r.code, detail=r.detail) for r in failed], [])
        return {r.device_id: KeySlots.from_values(r.values) for r in results if r.ok}

    def _move(self, device_id: str, slots: KeySlots) -> Move:
        data = self.ledger.data(device_id)
        if data.get("rolling_back"):
            return undo(slots, old=data["old"], new=data["new"])
        return next_move(slots, old=data["old"], new=data["new"], confirmed=bool(data.get("confirmed")))

    async def _settle(self, moves: dict[str, Move]) -> None:
        """Record devices whose rotation (or rollback) has come to an end."""
        writes, audit = [], []
        for device_id, move in moves.items():
            data = self.ledger.data(device_id)
            if move.step == "done" and not data.get("rolling_back"):
                await self.key_store.finish_rotation(device_id, old=data["old"], new=data["new"])
                writes.append(self.ledger.set(device_id, state=OutcomeState.SUCCEEDED, step="retire",
                                              code=None, detail=f"key version {data['new']} active"))
                audit.append(AuditEntry(self.ctx.operation_id, device_id, "retire", data["old"], "ok"))
            elif move.step == "done":
                await self.key_store.abandon_rotation(device_id, old=data["old"], new=data["new"])
                writes.append(self.ledger.set(device_id, state=OutcomeState.FAILED, step="rollback",
                                              detail=f"rolled back to key version {data['old']}: "
                                                     f"{data.get('why', 'failed')}"))
                audit.append(AuditEntry(self.ctx.operation_id, device_id, "rollback", data["old"], "ok"))
            elif move.step == "stuck":
                writes.append(self.ledger.set(device_id, state=OutcomeState.FAILED, step="check",
                                              code=FaultCode.UNKNOWN_KEY_STATE,
                                              detail="the device reports key slots this rotation did not make"))
        await self._persist(writes, audit)

    async def _send(self, moves: dict[str, Move]) -> None:
        moves = {d: m for d, m in moves.items() if m.command is not None}
        if not moves:
            return
        await self._load_secrets(list(moves))
        commands = {d: self._command_args(d, m) for d, m in moves.items()}
        results = await self._call(Step.KEY_COMMAND, commands)
        writes, audit, failed = [], [], []
        for r in results:
            move, data = moves[r.device_id], self.ledger.data(r.device_id)
            audit.append(AuditEntry(self.ctx.operation_id, r.device_id, move.step, move.mac_version,
                                    "ok" if r.ok else (r.code or "failed")))
            if r.ok:
                extra = {"confirmed": True} if move.step == "confirm" else {}
                writes.append(self.ledger.set(r.device_id, step=move.step, code=None, detail=None,
                                              data={**data, **extra}))
            elif not RETRY.transient(r.code):
                failed.append((r.device_id, f"{move.step} failed: {r.code}"))
        await self._persist(writes, audit)
        await self._roll_back([d for d, _ in failed], reason=dict(failed))

    def _command_args(self, device_id: str, move: Move) -> dict:
        secrets = self._secrets[device_id]
        args = {"command": int(move.command), "version": move.version,
                "key": AuthKey(move.mac_version, secrets[move.mac_version])}
        if move.step == "stage":
            data = self.ledger.data(device_id)
            args["arg"] = aes_key_wrap(secrets[data["old"]], secrets[data["new"]])
        return args

    async def _roll_back(self, device_ids: list[str], *, reason) -> None:
        writes = []
        for d in device_ids:
            why = reason if isinstance(reason, str) else reason.get(d, "failed")
            writes.append(self.ledger.set(d, data={**self.ledger.data(d), "rolling_back": True, "why": why}))
        await self._persist(writes, [])

    async def _call(self, step: str, per_device: dict[str, dict]) -> list[DeviceResult]:
        deadline = {"deadline_s": self.params.device_timeout_s}
        return await self.ctx.execute(step, [
            device_task(self.devices[d], {**args, **deadline}) for d, args in per_device.items()])

    async def _load_secrets(self, device_ids: list[str]) -> None:
        held = await self.key_store.held(device_ids, states=ROTATION_STATES)
        self._secrets = {d: {k.version: k.secret for k in held[d]} for d in device_ids}

    async def _persist(self, writes: list[Outcome], audit: list[AuditEntry]) -> None:
        await self.ctx.record(writes)
        if audit:
            await self.key_store.audit(audit)

    # -- the end --------------------------------------------------------------------

    def _tally(self) -> Tally:
        done = [d for d in self.ledger.all_ids()
                if self.ledger.get(d).state in (OutcomeState.SUCCEEDED, OutcomeState.FAILED)]
        return Tally(len(done), sum(1 for d in done if self.ledger.get(d).state == OutcomeState.FAILED))

    async def _never_started(self, todo: list[str], aborted: bool) -> None:
        queued = [d for d in todo if d not in self.ledger]
        if queued and (aborted or self.ctx.cancelled):
            why = "the rotation aborted at its failure threshold" if aborted else "cancelled"
            await self.ctx.record([self.ledger.set(d, state=OutcomeState.CANCELLED, step="queued",
                                                   code=CANCELLED_CODE, detail=f"never started: {why}")
                                   for d in queued])

    def _finish(self, aborted: bool) -> Finish:
        states = [self.ledger.get(d).state for d in self.ledger.all_ids()]
        result = {"devices": len(self.devices), "rotated": states.count(OutcomeState.SUCCEEDED),
                  "failed": states.count(OutcomeState.FAILED),
                  "cancelled": states.count(OutcomeState.CANCELLED)}
        if aborted:
            tally = self._tally()
            return Finish(Status.FAILED, result, "abort_threshold",
                          f"{tally.failed} of {tally.executed} devices failed")
        if self.ctx.cancelled:
            return Finish(Status.CANCELLED, result, "cancelled", "cancelled on request")
        if result["failed"]:
            return Finish(Status.FAILED, result, "devices_failed", f"{result['failed']} device(s) rolled back")
        return Finish(Status.SUCCEEDED, result)



async def run_key_rotation(ctx: RunContext) -> Finish:
    params = KeyRotationParams.model_validate(ctx.operation.params)
    return await RotationRun(ctx, params).run()
