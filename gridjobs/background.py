"""The long-lived background tasks a component owns (relay, hub, refresher, writers...).

`start` creates one with its name and a done-callback: a task that ends on an
error, other than by being cancelled, is logged (`background_task_failed`) and
counted (`gridjobs_background_task_failures_total{task}`) as it ends. Without
it, an owned task's error waits unseen until its owner gathers it at shutdown,
and the work it did (auditing requests, relaying events) silently stops. The
owner still cancels and awaits it on shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

import structlog

from gridjobs.metrics import BACKGROUND_TASK_FAILURES

log = structlog.get_logger("gridjobs.background")


def start(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task) -> None:
    if task.cancelled() or (error := task.exception()) is None:
        return
    BACKGROUND_TASK_FAILURES.labels(task.get_name()).inc()
    # The type and where, not the message: a driver's message may quote the values it refused.
    log.error("background_task_failed", task=task.get_name(), error_type=type(error).__name__,
              at=_where(error))


def _where(error: BaseException) -> str | None:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else None
