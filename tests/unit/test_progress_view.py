"""The progress a person sees: the phase, the time left in the hold, rollout waves."""

from __future__ import annotations

import io

from gridjobs.progress import ProgressPrinter, phase_text, progress_line


def op(status="running", kind="load_shed", **progress):
    return {"id": "x", "kind": kind, "status": status,
            "progress": {"total": 4, "succeeded": 1, "failed": 1, "pending": 2, **progress}}


def test_phases_of_a_curtailment():
    assert phase_text(op()) == "survey"
    assert phase_text(op(phase="shed")) == "shed"
    assert phase_text(op(phase="hold", hold_until=1000.0), now=1000.0 - 125) == "hold, 2m05s left"
    assert phase_text(op(phase="hold", hold_until=1000.0), now=2000.0) == "hold, 0s left"
    assert phase_text(op(phase="hold", hold_until=10_000.0), now=0) == "hold, 2h46m40s left"
    assert phase_text(op(phase="hold")) == "hold until cancelled"
    assert phase_text(op(phase="restore")) == "restore"
    assert phase_text(op(status="succeeded", phase="restore")) == ""


def test_rollout_waves():
    assert phase_text(op(kind="firmware_rollout", wave=1, waves=4)) == "wave 2 of 4"
    assert phase_text(op(kind="firmware_rollout", wave=4, waves=4)) == "wave 4 of 4"
    assert phase_text(op(kind="firmware_rollout")) == ""


def test_not_a_terminal_gets_a_line_per_change():
    out = io.StringIO()
    printer = ProgressPrinter(out)
    printer(op(phase="shed"))
    printer(op(phase="shed"))
    printer(op(phase="restore"))
    printer.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("[") for line in lines)
    assert "shed" in lines[0] and "restore" in lines[1] and lines[0] == progress_line(op(phase="shed"))
