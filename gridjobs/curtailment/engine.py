"""Carry out a curtailment: survey, curtail, hold, staged restore, sweep.

Thin by design: it loads data, asks the strategy (pure) for a decision, sends
one batch per shard through the context and records every per-device outcome
(fenced). Each phase resumes from the ledger and the checkpoint.

A command whose answer was lost is settled on the device (read back by the
step): if it took, the device counts as curtailed and its reduction is
measured; if it cannot be settled (`outcome_unknown`), the device counts for
nothing but is covered by every restore and by the final sweep.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from actors.step_names import Step
from actors.tasks import DeviceRef, DeviceResult, DeviceTask
from adapters import FaultCode, Role
from gridjobs.aio import gather_all
from gridjobs.curtailment.ledger import ALL_STEPS, CURTAIL, CURTAILED, SURVEY, CurtailmentLedger
from gridjobs.curtailment.params import CurtailmentParams
from gridjobs.curtailment.restore import Restorer
from gridjobs.curtailment.strategy import Applied, Command, Strategy
from gridjobs.records import Device, Outcome
from gridjobs.run.command_keys import audit_commands, command_keys
from gridjobs.run.context import Finish, RunContext, device_ref
from gridjobs.run.ports import CommandKeys
from gridjobs.run.retry import RetryRule
from gridjobs.states import OutcomeState, Status

KW_EPSILON = 1e-6
MAX_ROUNDS = 50  # curtail rounds per operation: replacements and deeper limits
RETRY = RetryRule()
MEASURED = Role.MEASURED_KW
# Results that say no write reached the device: nothing to restore there.
NOT_SENT = frozenset({FaultCode.DEVICE_HELD, FaultCode.UNKNOWN_PROFILE, FaultCode.UNSUPPORTED_DEVICE})


class CurtailmentRun:
    def __init__(self, ctx: RunContext, params: CurtailmentParams, strategy: Strategy) -> None:
        self.ctx, self.params, self.strategy = ctx, params, strategy
        self.devices: dict[str, Device] = {}
        self.ledger = CurtailmentLedger()
        self.command_keys: CommandKeys = {}
        self._refs: dict[str, DeviceRef] = {}   # made once per device: every step's tasks share them
        # When this run surveyed: every dead-man timer it holds was armed after it. None
        # when the survey ran under an earlier owner, whose timers may be near their end.
        self.armed_since: float | None = None

    async def run(self) -> Finish:
        ctx = self.ctx
        await self._load()
        if "readings" not in ctx.checkpoint:
            await ctx.save_checkpoint(readings=await self._survey(), phase="shed")
            self.armed_since = ctx.clock()
        if ctx.checkpoint["phase"] == "shed" and not ctx.cancelled:
            await self._shed()
            await ctx.save_checkpoint(phase="hold", hold_until=self._hold_until())
        if ctx.checkpoint["phase"] == "hold" and not ctx.cancelled:
            await self._hold()
        await ctx.save_checkpoint(phase="restore")
        restorer = Restorer(ctx, self.ledger, self._task, self.command_keys,
                            stages=self.params.restore.stages,
                            stage_delay_s=self.params.restore.stage_delay_s,
                            revert_timeout_s=self.params.revert_timeout_s)
        return self._finish(await restorer.run())

    async def _load(self) -> None:
        # The ledger and the scope are read side by side, on two pooled connections.
        outcomes, in_scope = await gather_all(self.ctx.lease.outcomes(),
                                              self.ctx.devices.in_scope(self.params.scope))
        self.ledger = CurtailmentLedger(outcomes)
        self.devices = {d.id: d for d in in_scope}
        # Devices this operation touched stay addressable even if the registry
        # has since moved them out of scope: they must still be restored.
        touched = [d for d in self.ledger.ids(*ALL_STEPS) if d not in self.devices]
        if touched:
            self.devices.update((d.id, d) for d in await self.ctx.devices.by_ids(touched))
        self.command_keys = await command_keys(self.ctx, self.devices.values())

    @property
    def readings(self) -> dict[str, dict[str, float]]:
        return self.ctx.checkpoint["readings"]

    def _task(self, device_id: str, **args: Any) -> DeviceTask:
        if device_id in self.command_keys:  # the device authenticates critical commands
            args["key"] = self.command_keys[device_id]
        if (ref := self._refs.get(device_id)) is None:
            ref = self._refs[device_id] = device_ref(self.devices[device_id])
        return DeviceTask(ref, args)

    async def _survey(self) -> dict[str, dict[str, float]]:
        surveyed = self.strategy.surveyed(self.devices.values())
        roles = list(self.strategy.survey_roles)
        results = await self.ctx.execute(Step.SURVEY, [self._task(d.id, roles=roles) for d in surveyed])
        retry = [r.device_id for r in results if not r.ok and RETRY.should_retry(r.code, 1)]
        if retry:  # transient faults get one more read
            again = {r.device_id: r for r in await self.ctx.execute(
                Step.SURVEY, [self._task(d, roles=roles) for d in retry])}
            results = [again.get(r.device_id, r) for r in results]
        failed = [r for r in results if not r.ok]
        await self._fail(failed, step=SURVEY, attempts=1)
        self.ctx.log.info("survey_done", devices=len(results), failed=len(failed))
        return {r.device_id: {k: float(v) for k, v in r.values.items()} for r in results if r.ok}

    async def _shed(self) -> None:
        target = self.strategy.target_kw(self.readings)
        for _ in range(MAX_ROUNDS):
            if self.ctx.cancelled:
                return
            # Commands sent by an earlier owner (or to retry) whose result is not recorded.
            pending = [Command.from_args(d, self.ledger.get(d).data)
                       for d in self.ledger.ids(CURTAIL, state=OutcomeState.RUNNING)]
            commands = pending or (self.strategy.plan(
                self.devices, self.readings, target_kw=target, applied=self._applied(),
                unavailable=frozenset(self.ledger.ids(*ALL_STEPS, state=OutcomeState.FAILED)),
            ) if target - self.ledger.reduction_kw() > KW_EPSILON else [])
            if not commands:
                return
            await self._curtail(commands)
        self.ctx.log.warning("shed_rounds_exhausted", rounds=MAX_ROUNDS)

    def _applied(self) -> dict[str, Applied]:
        return {
            d: Applied(Command.from_args(d, data), float(data.get("reduction_kw", 0.0)))
            for d in self.ledger.ids(CURTAILED) if (data := self.ledger.notes(d))
        }

    async def _curtail(self, commands: list[Command]) -> None:
        ctx = self.ctx
        tasks = [self._task(c.device_id, revert_timeout_s=self.params.revert_timeout_s,
                            settle_s=self.params.verify_settle_s, **c.args()) for c in commands]
        # The intents need not be durable before the commands go out: a resumed
        # run re-plans the same commands from the checkpointed survey (the
        # planner is pure) and re-sends them, and the commands are absolute. So
        # they are made and written while the shards start on the commands, and
        # are in the ledger and durable before any result is taken over them.
        # Results are recorded as the shards report them, so that most are
        # written while the rest of the devices are still being curtailed.
        intents_written = asyncio.ensure_future(self._write_intents(commands))
        ok = 0
        try:
            async for results in ctx.execute_stream(Step.CURTAIL, tasks):
                await intents_written
                ok += await self._take_curtailed(results)
            await intents_written
        finally:   # never left running: awaited (or cancelled with this run)
            await asyncio.gather(intents_written, return_exceptions=True)
        ctx.log.info("curtail_batch", sent=len(commands), ok=ok,
                     achieved_kw=round(self.ledger.reduction_kw(), 3))

    async def _write_intents(self, commands: list[Command]) -> None:
        # One turn of the loop first: the calls to the shards go out before the 10,000
        # intents of a large shed are made.
        await asyncio.sleep(0)
        await self.ctx.record([
            self.ledger.set(c.device_id, state=OutcomeState.RUNNING, step=CURTAIL,
                            data={**self.ledger.notes(c.device_id), **c.args()},
                            attempts=self.ledger.attempts(c.device_id) + 1)
            for c in commands
        ])

    async def _take_curtailed(self, results: list[DeviceResult]) -> int:
        """Record a chunk of curtail results: measured reductions, retries, failures; how many took."""
        await audit_commands(self.ctx, Step.CURTAIL, results, self.command_keys)
        ok = [r for r in results if r.ok]
        writes = [self._curtailed(r) for r in ok]
        failed = [r for r in results if not r.ok]
        retry = [r for r in failed if RETRY.should_retry(r.code, self.ledger.attempts(r.device_id))]
        writes += [self.ledger.set(r.device_id, code=r.code, detail=f"retrying: {r.detail}",
                                   data=self._reached(r))
                   for r in retry]  # still running/curtail: the next round re-sends it
        await self._fail([r for r in failed if r not in retry], step=CURTAIL, writes=writes)
        return len(ok)

    def _reached(self, result: DeviceResult) -> dict[str, Any]:
        """The device's notes, marked `commanded` if the command may have reached it and
        was not released: restores and the final sweep then cover it."""
        data = self.ledger.data(result.device_id)
        untouched = result.values.get("released") or result.values.get("untouched")
        if result.code not in NOT_SENT and not untouched:
            data["commanded"] = True
        return data

    def _curtailed(self, result: DeviceResult) -> Outcome:
        before = self.readings[result.device_id][MEASURED]
        reduction = max(0.0, before - float(result.values[MEASURED]))  # measured on the device
        data = {**self.ledger.notes(result.device_id), **result.values,
                "survey_kw": before, "reduction_kw": reduction, "commanded": True}
        return self.ledger.set(result.device_id, state=OutcomeState.SUCCEEDED, step=CURTAILED,
                               code=None, detail=None, data=data)

    async def _fail(self, failed: list[DeviceResult], *, step: str, attempts: int | None = None,
                    writes: list[Outcome] | None = None) -> None:
        writes = list(writes or [])
        for r in failed:
            _log_device_failure(self.ctx, r, step=step)
            extra = {"attempts": attempts} if attempts is not None else {}
            writes.append(self.ledger.set(r.device_id, state=OutcomeState.FAILED, step=step, code=r.code,
                                          detail=r.detail, data=self._reached(r) if step == CURTAIL
                                          else self.ledger.data(r.device_id), **extra))
        await self.ctx.record(writes)

    def _hold_until(self) -> float | None:
        hold = self.params.hold_s
        return None if hold is None else self.ctx.clock() + hold

    async def _hold(self) -> None:
        """Re-arm the dead-man timers every third of their timeout until the hold ends.

        Each timer was armed after `armed_since` (the survey, when this run curtailed) or
        after the last refresh began; a resumed hold, whose timers an earlier owner armed
        at some unknown time, re-arms at once. A hold that has ended re-arms nothing:
        that would curtail devices that released."""
        ctx = self.ctx
        until = ctx.checkpoint.get("hold_until")
        refresh_every = max(1.0, self.params.revert_timeout_s / 3)
        due = ctx.clock() if self.armed_since is None else self.armed_since + refresh_every
        while not ctx.cancelled:
            now = ctx.clock()
            if until is not None and until <= now:
                return
            wake = due if until is None else min(due, until)
            if wake > now:
                if await ctx.wait_cancel(wake - now):
                    return
                continue   # the hold may have ended meanwhile
            began = ctx.clock()
            await self._refresh()
            due = began + refresh_every

    async def _refresh(self) -> None:
        shed = self.ledger.ids(CURTAILED)
        results = await self.ctx.execute(Step.REFRESH, [
            self._task(d, setpoint_pct=int(self.ledger.get(d).data["setpoint_pct"]),
                       revert_timeout_s=self.params.revert_timeout_s) for d in shed
        ])
        failed = [r.device_id for r in results if not r.ok]
        reapplied = [r.device_id for r in results if r.ok and r.values.get("reapplied")]
        if failed or reapplied:
            self.ctx.log.warning("refresh_incomplete", failed=failed[:20], reapplied=reapplied[:20])

    def _finish(self, left_curtailed: list[dict[str, Any]]) -> Finish:
        ledger = self.ledger
        surveyed = "readings" in self.ctx.checkpoint
        target = self.strategy.target_kw(self.readings) if surveyed else 0.0
        achieved = ledger.reduction_kw()
        result = {
            **self.strategy.result(self.readings if surveyed else {}),
            "target_kw": round(target, 3),
            "achieved_kw": round(achieved, 3),
            "shortfall_kw": round(max(0.0, target - achieved), 3),
            "devices_shed": len(ledger.shed()),
            "devices_failed": ledger.count(state=OutcomeState.FAILED, steps=(SURVEY, CURTAIL)),
            FaultCode.OUTCOME_UNKNOWN.value: ledger.count(state=OutcomeState.FAILED, code=FaultCode.OUTCOME_UNKNOWN),
            "restored": sum(1 for d in ledger.shed() if ledger.restored(d)),
            "restore_failed": len([d for d in ledger.commanded() if not ledger.restored(d)]),
            "left_curtailed": left_curtailed,
        }
        return _verdict(result, cancelled=self.ctx.cancelled, achieved=achieved, target=target)


def _verdict(result: dict[str, Any], *, cancelled: bool, achieved: float, target: float) -> Finish:
    left = result["left_curtailed"]
    if cancelled:
        note = f"; {len(left)} device(s) still curtailed (see left_curtailed)" if left else ""
        return Finish(Status.CANCELLED, result, "cancelled",
                      f"cancelled on request; curtailed devices restored{note}")
    if left:
        return Finish(Status.FAILED, result, "left_curtailed",
                      f"{len(left)} device(s) did not read back normal after the restore; their "
                      "dead-man timers release them (see left_curtailed for when)")
    if achieved + KW_EPSILON >= target:
        return Finish(Status.SUCCEEDED, result)
    return Finish(Status.FAILED, result, "target_not_met",
                  f"achieved {achieved:.1f} of {target:.1f} kW; no further candidates in scope")


def _log_device_failure(ctx: RunContext, result: DeviceResult, *, step: str) -> None:
    with structlog.contextvars.bound_contextvars(device_id=result.device_id):
        ctx.log.warning("device_failed", step=step, code=result.code, detail=result.detail)
