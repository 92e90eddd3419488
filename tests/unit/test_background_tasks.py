"""An owned background task that ends on an error says so as it ends, not at shutdown."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from gridjobs import background
from gridjobs.metrics import REGISTRY

SECRET = "k3y-material-0123"


def failures(name: str) -> float:
    return REGISTRY.get_sample_value("gridjobs_background_task_failures_total", {"task": name}) or 0.0


async def test_a_task_that_fails_is_logged_and_counted_without_its_message():
    async def broken() -> None:
        await asyncio.sleep(0)
        raise ValueError(f"refused {SECRET}")

    before = failures("test-broken")
    with capture_logs() as logged:
        task = background.start(broken(), name="test-broken")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)   # done-callbacks run on the next turn
    assert failures("test-broken") == before + 1
    [entry] = [e for e in logged if e["event"] == "background_task_failed"]
    assert (entry["task"], entry["error_type"]) == ("test-broken", "ValueError")
    assert "test_background_tasks.py:" in entry["at"]   # where it was raised
    assert SECRET not in repr(logged)


async def test_a_task_cancelled_or_finished_is_not_a_failure():
    async def forever() -> None:
        await asyncio.Event().wait()

    async def done() -> int:
        return 1

    before = failures("test-quiet")
    with capture_logs() as logged:
        stopped = background.start(forever(), name="test-quiet")
        finished = background.start(done(), name="test-quiet")
        await asyncio.sleep(0)
        stopped.cancel()
        await asyncio.gather(stopped, finished, return_exceptions=True)
        await asyncio.sleep(0)
    assert failures("test-quiet") == before
    assert not [e for e in logged if e["event"] == "background_task_failed"]
