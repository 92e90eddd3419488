"""Carry out a load shed: survey, shed, hold, staged restore.

Thin by design: it loads data, asks the pure planner, sends one batch per
shard through the context and records every per-device outcome (fenced).
Each phase is resumable from the ledger and the checkpoint.
"""

from __future__ import annotations

import asyncio

import structlog

from actors.tasks import DeviceRef, DeviceResult, DeviceTask
from gridjobs.dispatch.context import Finish, RunContext
from gridjobs.load_shed.ledger import ALL_STEPS, Ledger
from gridjobs.load_shed.params import LoadShedParams
from gridjobs.load_shed.planner import Candidate, plan_shed, restore_stages
from gridjobs.records import Device
from gridjobs.scope import resolve_scope
from gridjobs.store.devices import devices_by_ids

SHED_SETPOINT_PCT = 0
KW_EPSILON = 1e-6


def device_ref(device: Device) -> DeviceRef:
    return DeviceRef(device.id, device.host, device.port, device.unit_id, device.profile)


class LoadShedRun:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.params = LoadShedParams.model_validate(ctx.operation.params)
        self.devices: dict[str, Device] = {}
        self.ledger = Ledger()

    async def run(self) -> Finish:
        ctx = self.ctx
        self.ledger = Ledger(await ctx.lease.outcomes())
        in_scope = await resolve_scope(ctx.pool, self.params.scope)
        self.devices = {d.id: d for d in in_scope}
        # Devices this operation touched stay addressable even if the registry
        # has since moved them out of scope: they must still be restored.
        touched = [d for d in self.ledger.ids(*ALL_STEPS) if d not in self.devices]
        self.devices.update((d.id, d) for d in await devices_by_ids(ctx.pool, touched))
        if "readings" not in ctx.checkpoint:
            await ctx.save_checkpoint(readings=await self._survey(), phase="shed")
        if ctx.checkpoint["phase"] == "shed" and not ctx.cancelled:
            await self._shed()
            await ctx.save_checkpoint(phase="hold", hold_until=self._hold_until())
        if ctx.checkpoint["phase"] == "hold" and not ctx.cancelled:
            await self._hold()
        await ctx.save_checkpoint(phase="restore")
        await self._restore()
        return self._finish()

    def _task(self, device_id: str, **args) -> DeviceTask:
        return DeviceTask(device_ref(self.devices[device_id]), args)

    async def _survey(self) -> dict[str, float]:
        eligible = [d for d in self.devices.values() if not d.protected]
        results = await self.ctx.execute("survey", [self._task(d.id) for d in eligible])
        failed = [r for r in results if not r.ok]
        for r in failed:
            _log_device_failure(self.ctx, r, step="survey")
        await self.ctx.record([
            self.ledger.set(r.device_id, state="failed", step="survey", code=r.code,
                            detail=r.detail, attempts=1)
            for r in failed
        ])
        self.ctx.log.info("survey_done", devices=len(results), failed=len(failed))
        return {r.device_id: float(r.values["measured_kw"]) for r in results if r.ok}

    def _candidates(self) -> list[Candidate]:
        readings = self.ctx.checkpoint["readings"]
        return [
            Candidate(d.id, d.shed_priority, d.protected, readings[d.id])
            for d in self.devices.values() if d.id in readings
        ]

    async def _shed(self) -> None:
        while not self.ctx.cancelled:
            batch = self.ledger.ids("curtail")  # sent by an earlier owner, result unknown
            if not batch:
                plan = plan_shed(
                    self._candidates(), target_kw=self.params.target_kw,
                    already_kw=self.ledger.reduction_kw(),
                    exclude=frozenset(d for d in self.devices if d in self.ledger),
                )
                batch = list(plan.device_ids)
            if not batch:
                return
            await self._curtail(batch)

    async def _curtail(self, batch: list[str]) -> None:
        ctx, timeout = self.ctx, self.params.revert_timeout_s
        await ctx.record([
            self.ledger.set(d, state="running", step="curtail",
                            attempts=self._attempts(d) + 1) for d in batch
        ])
        results = await ctx.execute("curtail", [
            self._task(d, setpoint_pct=SHED_SETPOINT_PCT, revert_timeout_s=timeout) for d in batch
        ])
        readings = ctx.checkpoint["readings"]
        writes = []
        for r in results:
            if r.ok:
                reduction = max(0.0, readings[r.device_id] - float(r.values["measured_kw"]))
                data = {**r.values, "survey_kw": readings[r.device_id], "reduction_kw": reduction}
                writes.append(self.ledger.set(r.device_id, state="succeeded", step="curtailed",
                                              code=None, detail=None, data=data))
            else:
                writes.append(self.ledger.set(r.device_id, state="failed", step="curtail",
                                              code=r.code, detail=r.detail, data=r.values))
                _log_device_failure(ctx, r, step="curtail")
        await ctx.record(writes)
        ctx.log.info("curtail_batch", sent=len(batch), ok=sum(r.ok for r in results),
                     achieved_kw=round(self.ledger.reduction_kw(), 3))

    def _attempts(self, device_id: str) -> int:
        return self.ledger.get(device_id).attempts if device_id in self.ledger else 0

    def _hold_until(self) -> float | None:
        hold = self.params.hold_s
        return None if hold is None else self.ctx.clock() + hold

    async def _hold(self) -> None:
        until = self.ctx.checkpoint.get("hold_until")
        refresh_every = max(1.0, self.params.revert_timeout_s / 3)
        await self._refresh()  # a resumed hold re-arms the timers at once
        while True:
            remaining = refresh_every if until is None else until - self.ctx.clock()
            if remaining <= 0 or await self.ctx.wait_cancel(min(refresh_every, remaining)):
                return
            await self._refresh()

    async def _refresh(self) -> None:
        shed = self.ledger.ids("curtailed")
        results = await self.ctx.execute("refresh", [
            self._task(d, setpoint_pct=SHED_SETPOINT_PCT,
                       revert_timeout_s=self.params.revert_timeout_s) for d in shed
        ])
        failed = [r.device_id for r in results if not r.ok]
        reapplied = [r.device_id for r in results if r.ok and r.values.get("reapplied")]
        if failed or reapplied:
            self.ctx.log.warning("refresh_incomplete", failed=failed[:20], reapplied=reapplied[:20])

    async def _restore(self) -> None:
        shed = list(reversed(self.ledger.ids("curtailed", "restore", "restored")))
        stages = restore_stages(shed, self.params.restore.stages) if shed else []
        for index, stage in enumerate(stages):
            todo = [d for d in stage if self.ledger.get(d).step != "restored"]
            if not todo:
                continue
            if index > 0:  # the delay holds on cancel too: it protects the feeder
                await asyncio.sleep(self.params.restore.stage_delay_s)
            await self._restore_stage(index, todo)

    async def _restore_stage(self, index: int, todo: list[str]) -> None:
        results = await self.ctx.execute("restore", [self._task(d) for d in todo])
        timeout = self.params.revert_timeout_s
        writes = []
        for r in results:
            entry = self.ledger.get(r.device_id)
            data = {**(entry.data or {}), "restore_stage": index + 1}
            if r.ok:
                writes.append(self.ledger.set(r.device_id, step="restored", data=data))
            else:
                _log_device_failure(self.ctx, r, step="restore")
                writes.append(self.ledger.set(
                    r.device_id, state="failed", step="restore", code=r.code, data=data,
                    detail=f"restore failed ({r.detail}); its revert timer restores it within {timeout} s",
                ))
        await self.ctx.record(writes)
        self.ctx.log.info("restore_stage", stage=index + 1, devices=len(todo),
                          ok=sum(r.ok for r in results))

    def _finish(self) -> Finish:
        ledger, target = self.ledger, self.params.target_kw
        achieved = ledger.reduction_kw()
        result = {
            "target_kw": target,
            "achieved_kw": round(achieved, 3),
            "shortfall_kw": round(max(0.0, target - achieved), 3),
            "devices_shed": len(ledger.ids("curtailed", "restore", "restored")),
            "devices_failed": ledger.count(state="failed", steps=("survey", "curtail")),
            "restored": len(ledger.ids("restored")),
            "restore_failed": len(ledger.ids("restore")),
        }
        if self.ctx.cancelled:
            return Finish("cancelled", result, "cancelled", "cancelled on request; shed devices restored")
        if achieved + KW_EPSILON >= target:
            return Finish("succeeded", result)
        return Finish("failed", result, "target_not_met",
                      f"achieved {achieved:.1f} of {target:g} kW; no further candidates in scope")


def _log_device_failure(ctx: RunContext, result: DeviceResult, *, step: str) -> None:
    with structlog.contextvars.bound_contextvars(device_id=result.device_id):
        ctx.log.warning("device_failed", step=step, code=result.code, detail=result.detail)


async def run_load_shed(ctx: RunContext) -> Finish:
    return await LoadShedRun(ctx).run()
