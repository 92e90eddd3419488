"""A seeded kill -9 campaign for one kind.

Each run: a fresh database, a fresh simulated fleet in this process, `gridjobs serve`
as a subprocess; submit the kind's operations, then kill the server at drawn points
(a time, or the instant a device applies its n-th write) and start it again on the
same database, and at the end read the invariants from the devices. Runs go on until
the campaign has its kills; a run whose operations finish before a kill point ends
with the kills it had.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx

from tests.acceptance.server import ServerProcess
from tests.chaos.figures import Figures
from tests.chaos.kill import draw, kill_at, modes
from tests.chaos.kinds import Kind, Run
from tests.chaos.marks import KillMark, mark_kill
from tests.chaos.postgres import fresh_database
from tests.support import TERMINAL, serving

FINISH_TIMEOUT_S = 240.0
RUNS_PER_KILL = 3  # a run whose operations end before its kill point adds no kill: bounded retries
START_ATTEMPTS = 3

Say = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    kills: int
    seed: int
    kills_per_run: tuple[int, int] = (1, 3)


async def run_campaign(kind: Kind, plan: Plan, *, admin_url: str, workdir: Path,
                       say: Say = lambda line: None, server_env: dict[str, str] | None = None) -> Figures:
    rng = random.Random(f"{plan.seed}:{kind.name}")
    figures = Figures(kind.name)
    started = time.monotonic()
    while figures.kills < plan.kills and figures.runs < plan.kills * RUNS_PER_KILL:
        planned = min(rng.randint(*plan.kills_per_run), plan.kills - figures.kills)
        run_dir = workdir / f"{kind.name}-{figures.runs + 1}"
        run_dir.mkdir(parents=True)
        async with fresh_database(admin_url) as db_url:
            run = Run(f"{kind.name} run {figures.runs + 1}", db_url, run_dir, random.Random(rng.random()))
            await one_run(kind, run, planned, figures, say=say, server_env=server_env or {})
        figures.runs += 1
    figures.seconds = time.monotonic() - started
    return figures


async def one_run(kind: Kind, run: Run, planned: int, figures: Figures, *, say: Say,
                  server_env: dict[str, str]) -> None:
    server = ServerProcess(run.db_url, run.directory / "server.log", **server_env)
    async with serving(kind.fleet(run.rng.randrange(1 << 16))) as fleet:
        try:
            await start(server, run, say)
            op_ids = await submit(kind, server, fleet, run)
            figures.operations += len(op_ids)
            marks = await kill_and_restart(kind, run, server, fleet, op_ids, planned, figures, say)
            ops = await finish(server, op_ids)
        finally:
            server.stop()
        tally(figures, op_ids, ops, run)
        truth = await kind.truth(fleet, marks, [op for op in ops.values() if op], run)
        figures.add_truth(truth, run=run.name)
        say(f"{run.name}: {len(marks)} kill(s), {len(op_ids)} operation(s), "
            f"{[op.get('status') if op else None for op in ops.values()]}; broken: {truth.notes or 'none'}")


async def submit(kind: Kind, server: ServerProcess, fleet, run: Run) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=server.headers) as client:
        r = await client.post("/v1/devices", json=fleet.inventory())
        assert r.status_code == 200, r.text
        ids = []
        for body in await kind.bodies(client, fleet, run):
            r = await client.post("/v1/operations", json=body)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        return ids


async def kill_and_restart(kind: Kind, run: Run, server: ServerProcess, fleet, op_ids: list[str],
                           planned: int, figures: Figures, say: Say) -> list[KillMark]:
    marks: list[KillMark] = []
    for number, mode in enumerate(modes(run.rng, planned), 1):
        point = draw(run.rng, mode, horizon_s=kind.horizon_s, writes_per_device=kind.writes_per_device,
                     resumed=number > 1)
        async with httpx.AsyncClient(base_url=server.url, timeout=5, headers=server.headers) as client:
            what = await kill_at(point, server, fleet, lambda: all_terminal(client, op_ids))
        if what is None:
            say(f"{run.name}: kill {number} ({point.describe()}) came too late: the operations had ended")
            break
        figures.kills += 1
        marks.append(await mark_kill(fleet, run.db_url, op_ids))
        say(f"{run.name}: kill {number}: {what}")
        await start(server, run, say)
    return marks


async def start(server: ServerProcess, run: Run, say: Say) -> None:
    """Start the server; on a shared machine its local Ray sometimes fails to come up
    (another user's `ray stop`), so a start that fails is tried again, a bounded number of times."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            await server.start()
            return
        except (RuntimeError, TimeoutError) as exc:
            if server.proc is not None and server.proc.poll() is None:
                server.kill9()
            if attempt == START_ATTEMPTS:
                raise
            say(f"{run.name}: the server did not come up ({type(exc).__name__}); starting it again")


async def all_terminal(client: httpx.AsyncClient, op_ids: Sequence[str]) -> bool:
    for op_id in op_ids:
        op = await _get(client, op_id)
        if op is None or op.get("status") not in TERMINAL:
            return False
    return True


async def _get(client: httpx.AsyncClient, op_id: str) -> dict[str, Any] | None:
    """The operation, or None while the server cannot say (it is dead, or its database is)."""
    try:
        r = await client.get(f"/v1/operations/{op_id}")
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


async def finish(server: ServerProcess, op_ids: Sequence[str],
                 timeout_s: float = FINISH_TIMEOUT_S) -> dict[str, dict | None]:
    """Each accepted operation as the server has it once all are terminal (or the time is up)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
        try:
            async with asyncio.timeout(timeout_s):
                while not await all_terminal(client, op_ids):
                    await asyncio.sleep(0.25)
        except TimeoutError:
            pass
        return {op_id: await _get(client, op_id) for op_id in op_ids}


def tally(figures: Figures, op_ids: Sequence[str], ops: dict[str, dict | None], run: Run) -> None:
    for op_id in op_ids:
        op = ops.get(op_id)
        if op is None or op["status"] not in TERMINAL:
            figures.lost += 1
            figures.notes.append(f"{run.name}: operation {op_id} lost ({op and op['status']})")
        elif op["status"] != "succeeded":
            figures.failed += 1
            error = op.get("error") or {}
            figures.notes.append(f"{run.name}: {op['kind']} {op_id} {op['status']}: "
                                 f"{error.get('code')}: {error.get('detail')}")
