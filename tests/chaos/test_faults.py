"""Chaos beyond kill -9: Postgres restarted mid-hold, a device that applies and answers
late (1.3 s against a 1.0 s request timeout), and a device that applies and drops the
connection for every write role (an inverter's setpoint, timer and enable; an RTU's
activation; a secure load's key command), each with a seeded kill on top. The
invariants are read from the devices (tests/chaos/truth.py).
"""

from __future__ import annotations

import asyncio
import random
from uuid import UUID

import httpx
import pytest

from adapters import Role
from gridjobs.store.database import create_pool
from gridjobs.store.operations import get_operation
from simulators import Fault
from tests.acceptance.server import ServerProcess
from tests.chaos.campaign import Plan, finish, run_campaign, submit, tally
from tests.chaos.figures import Figures
from tests.chaos.kinds import DerCurtailment, FirmwareRollout, KeyRotation, LoadShed, Run
from tests.chaos.marks import mark_kill
from tests.chaos.postgres import fresh_database, private_postgres
from tests.chaos.scenarios import Scenario
from tests.support import outcomes, serving, wait_until

pytestmark = pytest.mark.chaos

SEED = 5
AMBIGUOUS_TIMEOUT = {"GRIDJOBS_REQUEST_TIMEOUT_S": "1.0"}
OUTAGE_S = 5.0  # longer than the lease (2 s): the lease runs out while Postgres is down
HOLD_S = 16.0  # the outage (and Postgres' start) fit well inside the hold


def late(*device_ids: str) -> dict[str, Fault]:
    return {d: Fault.late_answer(delay_s=1.3) for d in device_ids}


async def test_a_late_answering_device_under_a_kill(admin_url, tmp_path):
    scenario = Scenario("ambiguous_write", [LoadShed(["L1"], share=0.7)],
                        late("load-0001", "load-0004", "load-0007", "load-0010"))
    figures = await run_campaign(scenario, Plan(kills=1, seed=SEED, kills_per_run=(1, 1)), admin_url=admin_url,
                                 workdir=tmp_path, server_env=AMBIGUOUS_TIMEOUT)
    assert figures.kills == 1 and figures.operations
    assert not scenario.unexercised, f"faults that never acted: {scenario.unexercised}"
    assert figures.broken() == {}, figures.notes


async def test_a_device_dropping_the_answer_to_every_write_role_under_a_kill(admin_url, tmp_path):
    def drop(role: str) -> Fault:
        return Fault.drop_after_apply(roles=(role,))
    parts = [DerCurtailment(["P1"]), FirmwareRollout(["R1"]), KeyRotation(["S1"], failure_threshold_pct=100)]
    scenario = Scenario("drop_after_apply", parts, {
        "pv-0001": drop(Role.CURTAIL_SETPOINT_PCT), "pv-0002": drop(Role.REVERT_TIMEOUT_S),
        "pv-0003": drop(Role.CURTAIL_ENABLE), "rtu-0001": drop(Role.FW_ACTIVATE), "sec-0001": drop(Role.AUTH_CMD)})
    figures = await run_campaign(scenario, Plan(kills=1, seed=SEED, kills_per_run=(1, 1)), admin_url=admin_url,
                                 workdir=tmp_path, server_env=AMBIGUOUS_TIMEOUT)
    # A run whose operations end before its drawn kill point adds no kill, and the campaign
    # runs again on a fresh database and fleet: every run submits the same three operations.
    assert figures.kills == 1 and figures.operations == 3 * figures.runs
    assert not scenario.unexercised, f"faults that never acted: {scenario.unexercised}"
    # A key confirm shows in no register, so one that is never answered cannot be settled:
    # that device is rolled back to its old key (the store's active one), the rest rotate.
    # That is the one failure in each run.
    assert figures.broken() == {"failed": figures.runs}, figures.notes
    assert all("key_rotation" in note and "devices_failed" in note for note in figures.notes), figures.notes
    secure = [d for d in scenario.last_fleet.devices if d.spec.feeder == "S1"]
    assert {d.id: d.auth.active_version for d in secure if d.auth.active_version != 2} == {"sec-0001": 1}


async def test_a_postgres_restart_mid_hold(tmp_path):
    """Postgres (a private one: see tests/chaos/postgres.py) stops mid-hold for longer than
    the lease and comes back; the shed completes, nothing is curtailed twice, all restored."""
    kind, figures = LoadShed(["F1"], hold_s=HOLD_S), Figures("postgres_restart")
    with private_postgres() as pg:
        async with fresh_database(pg.admin_url) as db_url:
            run = Run("postgres restart", db_url, tmp_path, random.Random(SEED))
            server = ServerProcess(db_url, tmp_path / "server.log")
            async with serving(kind.fleet(SEED)) as fleet:
                try:
                    await server.start()
                    op_ids = await submit(kind, server, fleet, run)
                    await holding(server, op_ids)
                    marks = [await mark_kill(fleet, db_url, op_ids)]
                    pg.stop()
                    await asyncio.sleep(OUTAGE_S)
                    pg.start()
                    ops = await finish(server, op_ids)
                finally:
                    server.stop()
                tally(figures, op_ids, ops, run)
                figures.add_truth(await kind.truth(fleet, marks, [o for o in ops.values() if o], run), run=run.name)
            fences = await claims(db_url, op_ids)
    assert any(m.outcomes for m in marks), "the outage came before anything was recorded"
    assert figures.broken() == {}, figures.notes
    # Nothing is recorded mid-hold, so the runner outlives the outage and renews its own
    # lease: one claim. (A second claim once meant a second runner in the same process.)
    assert fences == [1] * len(op_ids)


async def claims(db_url: str, op_ids: list[str]) -> list[int]:
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        return [(await get_operation(pool, UUID(op_id))).fence for op_id in op_ids]
    finally:
        await pool.close()


async def holding(server: ServerProcess, op_ids: list[str]) -> None:
    """Every device's curtailment recorded, some curtailed: the shed is over, the hold has begun."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
        async def recorded() -> bool:
            for op_id in op_ids:
                found = (await outcomes(client, op_id)).values()
                if not any(o["step"] == "curtailed" for o in found) or any(o["state"] == "running" for o in found):
                    return False
            return True
        await wait_until(recorded, timeout_s=120, interval_s=0.2)
    await asyncio.sleep(1.0)  # the checkpoint moves to "hold" right after the last record
