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
    assert background.failed()["test-broken"] == "ValueError"
    await background.stop(task)   # its owner is done with it: no longer reported
    assert "test-broken" not in background.failed()


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


async def test_a_failed_task_is_reported_until_its_owner_stops_or_replaces_it():
    async def broken() -> None:
        raise RuntimeError("boom")

    async def forever() -> None:
        await asyncio.Event().wait()

    with capture_logs():
        stopped = background.start(broken(), name="test-failed-then-stopped")
        replaced = background.start(broken(), name="test-failed-then-replaced")
        await asyncio.gather(stopped, replaced, return_exceptions=True)
        await asyncio.sleep(0)
    assert {n: e for n, e in background.failed().items() if n.startswith("test-failed")} == {
        "test-failed-then-stopped": "RuntimeError", "test-failed-then-replaced": "RuntimeError"}
    await background.stop(stopped)
    successor = background.start(forever(), name="test-failed-then-replaced", replacing=replaced)
    assert not [n for n in background.failed() if n.startswith("test-failed")]
    await background.stop(successor)
    assert successor.cancelled() and not [n for n in background.failed() if n.startswith("test-failed")]
