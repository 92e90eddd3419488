"""How a serving process stops: SIGTERM or SIGINT asks for a drain, bounded in time.

The first stop signal runs the hooks registered with the StopRequest (serve's
makes the dispatcher stop claiming and hand its runs back) and starts a
watchdog. A clean drain ends in exit status 0. If the process is still there
`drain_s` after the signal, the watchdog ends it with status 1: whatever hung,
unreleased leases expire and the devices' dead-man timers revert them. Later
signals change nothing.

The handler itself only records and schedules: it runs between two bytecodes
of the main thread, which may be halfway through writing a log line, so the
watchdog thread does the logging.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Callable, Iterator

import structlog

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
OVERRUN_EXIT_STATUS = 1   # README "Stopping and exit codes": not a clean stop

log = structlog.get_logger("gridjobs.shutdown")


class StopRequest:
    """Whether, and by which signal, this process was asked to stop. Callable as a
    signal handler."""

    def __init__(self, drain_s: float) -> None:
        self.drain_s = drain_s
        self.signal: signal.Signals | None = None
        self._hooks: list[Callable[[], None]] = []
        self._drained = threading.Event()

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def __call__(self, signum: int, frame: FrameType | None = None) -> None:
        if self.requested:
            return
        self.signal = signal.Signals(signum)
        threading.Thread(target=self._watch, name="gridjobs-drain-watchdog", daemon=True).start()
        for hook in self._hooks:
            hook()

    @contextmanager
    def hooked(self, hook: Callable[[], None]) -> Iterator[None]:
        """Within the block, a stop request runs `hook` (at once if one was made already).
        Hooks run in the signal handler, on the main thread: they only schedule work."""
        self._hooks.append(hook)
        try:
            if self.requested:
                hook()
            yield
        finally:
            self._hooks.remove(hook)

    def done(self) -> None:
        """The drain is over: call the watchdog off."""
        self._drained.set()

    def _watch(self) -> None:
        log.info("stop_requested", signal=self.signal.name, drain_s=self.drain_s)
        if not self._drained.wait(self.drain_s):
            log.error("drain_overrun", drain_s=self.drain_s, exit_status=OVERRUN_EXIT_STATUS)
            os._exit(OVERRUN_EXIT_STATUS)


@contextmanager
def stop_signals(drain_s: float) -> Iterator[StopRequest]:
    """SIGTERM and SIGINT request a stop while the block runs; the previous handlers
    come back after it, and the watchdog is called off once the block is done."""
    stop = StopRequest(drain_s)
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        stop.done()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if stop.requested:
            log.info("stopped", signal=stop.signal.name)

