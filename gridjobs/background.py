"""The long-lived background tasks a component owns (relay, hub, refresher, writers...).

`start` creates one with its name and a done-callback: a task that ends on an
error, other than by being cancelled, is logged (`background_task_failed`) and
counted (`gridjobs_background_task_failures_total{task}`) as it ends. Without
it, an owned task's error waits unseen until its owner gathers it at shutdown,
and the work it did (auditing requests, relaying events) silently stops. The
owner still cancels and awaits it on shutdown.

Nothing restarts a loop that failed (one that died of a bug would die again);
only the writers started on demand (group commit, firmware offsets) start a new
one on their next use. `failed()` names the failed ones, and the runtime's
readiness reports them, so /readyz says the process no longer does all its work. A failure is forgotten when its owner
stops the task (`stop`, which owners call on shutdown) or starts another in its
place (`replacing`), or with the owner itself (a weak set).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Coroutine

import structlog

from gridjobs.metrics import BACKGROUND_TASK_FAILURES

log = structlog.get_logger("gridjobs.background")

_failed: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()


def start(coro: Coroutine[Any, Any, Any], *, name: str, replacing: asyncio.Task | None = None) -> asyncio.Task:
    """Start an owned task; `replacing`, an ended one it takes over from (its failure is then
    no longer reported)."""
    if replacing is not None:
        _failed.discard(replacing)
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(_report)
    return task


async def stop(task: asyncio.Task | None) -> None:
    """Cancel an owned task and wait until it has ended; its owner is done with it, so
    a failure of it is no longer reported by `failed`."""
    if task is None:
        return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    _failed.discard(task)


def failed() -> dict[str, str]:
    """The tasks that ended on an error and are still held: name -> the error's type."""
    return {task.get_name(): type(task.exception()).__name__ for task in list(_failed)}


def _report(task: asyncio.Task) -> None:
    if task.cancelled() or (error := task.exception()) is None:
        return
    _failed.add(task)
    BACKGROUND_TASK_FAILURES.labels(task.get_name()).inc()
    # The type and where, not the message: a driver's message may quote the values it refused.
    log.error("background_task_failed", task=task.get_name(), error_type=type(error).__name__,
              at=_where(error))


def _where(error: BaseException) -> str | None:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else None
