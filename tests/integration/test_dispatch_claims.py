"""The dispatcher against a real Postgres, with runners that hold until told.

Its table of runs is keyed by claim (operation id + fence): should two runs of
one operation ever coexist in one process (a lost claim taken again), the
stale one finishing must not take the current one out of the table. The claim
path itself never re-claims an operation running here (test_dispatch_own_claims),
so the test hands the second claim to the dispatcher directly. And stop() hands every claim back at once, so another process
takes it over without waiting for the lease to run out.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from gridjobs.dispatch.dispatcher import Dispatcher, DispatcherConfig
from gridjobs.run.context import Finish, RunContext
from gridjobs.states import Status
from gridjobs.store import leases
from gridjobs.store.operations import NewOperation, cancel, submit
from gridjobs.testing import local_ports
from tests.support import wait_until

# Heartbeats (every lease_s / 3) stay out of the way: what reaches a run here
# comes from LISTEN/NOTIFY or from the dispatcher itself, never from a beat.
LEASE_S = 60.0
QUICK_S = 5.0     # "at once": far below LEASE_S and below the first heartbeat


class HeldRuns:
    """A runner that holds each claim (by fence) until the test lets it finish."""

    def __init__(self) -> None:
        self.contexts: dict[int, RunContext] = {}
        self.finish: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def run(self, ctx: RunContext) -> Finish:
        self.contexts[ctx.lease.fence] = ctx
        await self.finish[ctx.lease.fence].wait()
        return Finish(Status.SUCCEEDED, {})

    async def started(self, fence: int) -> None:
        async def seen():
            return fence in self.contexts
        await wait_until(seen, timeout_s=QUICK_S)


async def _no_check(conn):
    return frozenset()  # no scope to check: the operation reaches no feeder


def _dispatcher(pool, db_url, ports, runs: HeldRuns, *, poll_s: float = 0.1) -> Dispatcher:
    return Dispatcher(pool=pool, dsn=db_url, ports=ports, runners={"load_shed": runs.run},
                      config=DispatcherConfig(lease_s=LEASE_S, poll_s=poll_s))


async def _queued(pool):
    return (await submit(pool, NewOperation("load_shed", 0, {}), validate=_no_check)).operation


async def _lease(pool, op_id):
    return await pool.fetchrow("SELECT fence, lease_owner, lease_expires_at <= now() AS expired "
                               "FROM operations WHERE id = $1", op_id)


async def _runs_alive(op_id) -> int:
    await asyncio.sleep(0)   # let done callbacks of finished runs run
    name = f"gridjobs-op-{op_id}"
    return sum(1 for t in asyncio.all_tasks() if t.get_name().startswith(name) and not t.done())


async def test_a_stale_run_finishing_leaves_the_new_claim_running_cancellable_and_released(
        pool, db_url):
    op = await _queued(pool)
    runs = HeldRuns()
    async with local_ports([]) as ports:
        dispatcher = _dispatcher(pool, db_url, ports, runs)
        await dispatcher.start()
        try:
            await runs.started(1)
            # The lease runs out (a stalled process, say) and the same process claims again.
            await pool.execute("UPDATE operations SET lease_expires_at = now() - interval '1 second' "
                               "WHERE id = $1", op.id)
            again = await leases.claim_next(pool, owner=dispatcher.owner, lease_s=LEASE_S, running=[])
            assert again is not None and again.fence == 2
            dispatcher._start(again)
            await runs.started(2)
            runs.finish[1].set()   # the stale run ends; its fenced finish is refused

            async def stale_run_gone():
                return await _runs_alive(op.id) == 1
            await wait_until(stale_run_gone, timeout_s=QUICK_S)
            assert dispatcher.running == 1, "the stale run's end took the new claim out of the table"

            await cancel(pool, op.id, by="test", authorize=lambda _locked: None)  # NOTIFY: the id only

            async def cancel_reached_new_run():
                return runs.contexts[2].cancel.is_set()
            await wait_until(cancel_reached_new_run, timeout_s=QUICK_S)
            assert not runs.contexts[1].cancel.is_set(), "the stale run was already gone"
        finally:
            await dispatcher.stop()
        lease = await _lease(pool, op.id)
        assert lease["fence"] == 2 and lease["lease_owner"] is None and lease["expired"], dict(lease)
        assert await _runs_alive(op.id) == 0


async def test_stop_hands_the_claim_to_another_dispatcher_at_once(pool, db_url):
    op = await _queued(pool)
    first_runs, second_runs = HeldRuns(), HeldRuns()
    async with local_ports([]) as ports:
        first = _dispatcher(pool, db_url, ports, first_runs)
        await first.start()
        # The second polls rarely: only the release's NOTIFY can wake it in time.
        second = _dispatcher(pool, db_url, ports, second_runs, poll_s=LEASE_S)
        try:
            await first_runs.started(1)
            await second.start()
            await first.stop()
            assert first.running == 0
            await second_runs.started(2)
            lease = await _lease(pool, op.id)
            assert lease["fence"] == 2 and lease["lease_owner"] == second.owner, dict(lease)
            assert not lease["expired"]
        finally:
            await first.stop()
            await second.stop()


@pytest.mark.parametrize("calls", [1, 2])
async def test_stop_is_idempotent_and_stops_claiming(pool, db_url, calls):
    runs = HeldRuns()
    async with local_ports([]) as ports:
        dispatcher = _dispatcher(pool, db_url, ports, runs)
        await dispatcher.start()
        await asyncio.gather(*(dispatcher.stop() for _ in range(calls)))
        op = await _queued(pool)
        await asyncio.sleep(0.5)   # five polls' worth: a live loop would have claimed it
        assert runs.contexts == {} and (await _lease(pool, op.id))["fence"] == 0
