"""Run one claimed operation: heartbeat beside it, fenced finish after it."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Mapping

import structlog

from gridjobs.device_keys.errors import KeyStoreError
from gridjobs.errors import ExecutionError, GridjobsError, StaleLeaseError, StoreError
from gridjobs.metrics import LEASE_RENEWAL_FAILURES, OPERATIONS_FINISHED
from gridjobs.run.context import Finish, RunContext
from gridjobs.states import Status

log = structlog.get_logger("gridjobs.dispatch")

Runner = Callable[[RunContext], Awaitable[Finish]]
RELEASE_TIMEOUT_S = 5.0


async def run_claimed(ctx: RunContext, runners: Mapping[str, Runner]) -> None:
    structlog.contextvars.bind_contextvars(operation_id=str(ctx.operation_id))
    heartbeat = asyncio.create_task(_heartbeat(ctx), name=f"gridjobs-heartbeat-{ctx.operation_id}")
    runner = asyncio.create_task(_run_kind(ctx, runners), name=f"gridjobs-runner-{ctx.operation_id}")
    try:
        done, _ = await asyncio.wait({heartbeat, runner}, return_when=asyncio.FIRST_COMPLETED)
        if heartbeat in done:  # lease lost: stop acting at once
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            LEASE_RENEWAL_FAILURES.labels("lease_lost").inc()
            log.warning("lease_lost", reason=repr(heartbeat.exception()))
            return
        finish = runner.result()
        if finish is not None:
            await ctx.lease.finish(finish.status, result=finish.result,
                                   error_code=finish.error_code, error_detail=finish.error_detail)
            OPERATIONS_FINISHED.labels(ctx.operation.kind, finish.status).inc()
            log.info("operation_finished", status=finish.status, error_code=finish.error_code)
    except asyncio.CancelledError:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await _release(ctx)
        raise
    except StaleLeaseError:
        log.warning("lease_lost_on_finish")
    finally:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)


async def _run_kind(ctx: RunContext, runners: Mapping[str, Runner]) -> Finish | None:
    run = runners.get(ctx.operation.kind)
    if run is None:
        return Finish(Status.FAILED, None, "unknown_kind", f"no runner for kind {ctx.operation.kind!r}")
    log.info("operation_started", kind=ctx.operation.kind, fence=ctx.lease.fence)
    try:
        return await run(ctx)
    except StaleLeaseError:
        log.warning("lease_lost_during_run")
        return None
    except KeyStoreError as exc:  # keys that cannot be decrypted: retrying will not help
        log.error("operation_failed", error=exc.detail)
        return Finish(Status.FAILED, None, "key_store", exc.detail)
    except (StoreError, ExecutionError) as exc:
        # Infrastructure trouble: stop heartbeating and let the lease run out,
        # so this or another process resumes from the recorded outcomes after
        # lease_s (a natural backoff, not a hot retry loop).
        log.error("operation_interrupted", error=str(exc))
        return None
    except GridjobsError as exc:  # a problem retrying will not fix: the operation fails
        log.error("operation_failed", error=exc.detail)
        return Finish(Status.FAILED, None, exc.type_slug.replace("-", "_"), exc.detail)
    except Exception:  # a bug: record it as data, keep the service alive
        log.exception("operation_crashed")
        return Finish(Status.FAILED, None, "internal_error",
                      "the runner failed unexpectedly; see server logs")


async def _heartbeat(ctx: RunContext) -> None:
    interval = ctx.lease.lease_s / 3
    while True:
        await asyncio.sleep(interval)
        try:
            beat = await ctx.lease.heartbeat()
            if beat.cancel:
                ctx.cancel.set()
            if beat.resume:
                ctx.resume.set()
        except StoreError as exc:  # transient: the lease outlives a few missed beats
            LEASE_RENEWAL_FAILURES.labels("store_error").inc()
            log.warning("heartbeat_failed", error=str(exc))


async def _release(ctx: RunContext) -> None:
    """Hand the claim back now, so another process need not wait for it to expire."""
    try:
        await asyncio.wait_for(asyncio.shield(ctx.lease.release()), timeout=RELEASE_TIMEOUT_S)
        log.info("lease_released", fence=ctx.lease.fence)
    except (asyncio.CancelledError, TimeoutError, GridjobsError) as exc:
        log.warning("lease_release_failed", error=repr(exc), fallback="the lease expires by itself")
