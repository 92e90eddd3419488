"""A dispatcher never claims an operation it is still running.

Found by the chaos suite (tests/chaos/test_faults.py): Postgres down for longer than the
lease lets the lease run out while the runner is still holding; when Postgres came
back, the same process claimed the operation again and ran a second runner beside the
first, and when the first one ended it dropped the second from the dispatcher's books
(no shutdown cancel, no lease release, wrong running count).
"""

from __future__ import annotations

import asyncio

from gridjobs.dispatch.dispatcher import Dispatcher, DispatcherConfig
from gridjobs.run.context import Finish, RunPorts
from gridjobs.states import Status
from gridjobs.store.operations import NewOperation, submit
from tests.support import wait_until

POLL_S = 0.05


async def _noop(conn):
    return frozenset()  # no scope to check: the operation reaches no feeder


async def test_an_expired_lease_on_an_operation_still_running_here_is_not_claimed_again(pool, db_url):
    fences: list[int] = []
    release = asyncio.Event()

    async def runner(ctx) -> Finish:
        fences.append(ctx.lease.fence)
        await release.wait()
        return Finish(Status.SUCCEEDED, {})

    ports = RunPorts(devices=None, shards=None, firmware=None, key_store=None, profiles=None)
    dispatcher = Dispatcher(pool=pool, dsn=db_url, ports=ports, runners={"load_shed": runner},
                            config=DispatcherConfig(lease_s=30, poll_s=POLL_S, max_running=4))
    op = (await submit(pool, NewOperation("load_shed", 0, {}), validate=_noop)).operation
    await dispatcher.start()
    try:
        await wait_until(lambda: _true(fences), timeout_s=30, interval_s=POLL_S)
        # The lease runs out under the runner (as while Postgres was down): nobody renewed it.
        await pool.execute("UPDATE operations SET lease_expires_at = now() - interval '1 second' WHERE id = $1",
                           op.id)
        for _ in range(10):  # ten poll rounds of the dispatcher's claim loop
            await asyncio.sleep(POLL_S)
        assert fences == [1] and dispatcher.running == 1
        assert await pool.fetchval("SELECT fence FROM operations WHERE id = $1", op.id) == 1
        release.set()
        await wait_until(lambda: _true(dispatcher.running == 0), timeout_s=30, interval_s=POLL_S)
        assert await pool.fetchval("SELECT status FROM operations WHERE id = $1", op.id) == "succeeded"
    finally:
        release.set()
        await dispatcher.stop()


async def _true(value) -> bool:
    return bool(value)
