"""gridjobs.shutdown: the first stop signal runs the hooks, and the drain is bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from gridjobs.shutdown import OVERRUN_EXIT_STATUS, stop_signals


def test_the_first_stop_signal_runs_the_hooks_and_the_old_handlers_come_back():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    calls = []
    with stop_signals(drain_s=60) as stop:
        assert not stop.requested
        with stop.hooked(lambda: calls.append("early")):
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)   # a second signal changes nothing
        with stop.hooked(lambda: calls.append("late")):   # registered after: runs at once
            pass
        signal.raise_signal(signal.SIGTERM)
    assert stop.signal is signal.SIGTERM
    assert calls == ["early", "late"]
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_drain_that_overruns_its_bound_ends_the_process_with_status_1():
    program = ("import os, signal, time\n"
               "from gridjobs.shutdown import stop_signals\n"
               "with stop_signals(drain_s=0.5):\n"
               "    os.kill(os.getpid(), signal.SIGTERM)\n"
               "    time.sleep(60)\n")   # a drain that hangs
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == OVERRUN_EXIT_STATUS == 1, done.stderr
    assert "drain_overrun" in done.stdout + done.stderr
