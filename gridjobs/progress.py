"""Rendering an operation's progress for people at a terminal.

Progress goes to stderr, results to stdout: a script reading stdout never sees a
bar, and a bar never shares a line with a log line (gridjobs.logs writes through
whatever sys.stderr is, which rich redirects above the live display).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from actors.step_names import Step

BAR_WIDTH = 30
CURTAILMENTS = frozenset({"load_shed", "der_curtailment"})


def phase_text(op: dict, now: float | None = None) -> str:
    """Where the run is: survey, shed, hold (with the time left), restore; wave k of n."""
    p = op.get("progress") or {}
    if op.get("status") not in ("running", "cancelling", "paused"):
        return ""
    phase = p.get("phase")
    if phase is None and op.get("kind") in CURTAILMENTS:
        return str(Step.SURVEY)
    if phase == "hold":
        until = p.get("hold_until")
        if until is None:
            return "hold until cancelled"
        left = max(0.0, until - (time.time() if now is None else now))
        return f"hold, {_duration(left)} left"
    if phase is not None:
        return phase
    if p.get("waves"):
        return f"wave {min(p.get('wave', 0) + 1, p['waves'])} of {p['waves']}"
    return ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(op: dict) -> str:
    p = op["progress"]
    done = p["succeeded"] + p["failed"]
    filled = int(BAR_WIDTH * done / p["total"]) if p["total"] else 0
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    phase = phase_text(op)
    return (f"[{bar}] {op['status']:<10} {phase + '  ' if phase else ''}devices ok={p['succeeded']} "
            f"failed={p['failed']} pending={p['pending']}")


class _PhaseColumn(ProgressColumn):
    """The phase, recomputed at each refresh so the time left in a hold counts down
    between events."""

    def render(self, task: Task) -> Text:
        op = task.fields.get("op") or {}
        return Text(phase_text(op), style="cyan")


class ProgressPrinter:
    """A live rich bar on a terminal's stderr; a plain line per change when stderr is not a terminal."""

    def __init__(self, out: TextIO | None = None, *, console: Console | None = None) -> None:
        self._console = console or Console(file=out or sys.stderr, stderr=out is None)
        self._live = self._console.is_terminal
        self._out = out or sys.stderr
        self._last = ""
        self._task = None
        self._bar: Progress | None = None
        if self._live:
            self._bar = Progress(
                TextColumn("[bold]{task.fields[status]:<10}"), BarColumn(bar_width=BAR_WIDTH),
                MofNCompleteColumn(), TextColumn("ok={task.fields[ok]} failed={task.fields[failed]}"),
                _PhaseColumn(), console=self._console, redirect_stdout=True, redirect_stderr=True,
                refresh_per_second=4)

    def __call__(self, op: dict) -> None:
        if self._bar is not None:
            self._draw(op)
            return
        line = progress_line(op)
        if line != self._last:
            self._last = line
            self._out.write(line + "\n")
            self._out.flush()

    def _draw(self, op: dict) -> None:
        p = op["progress"]
        fields = dict(status=op["status"], ok=p["succeeded"], failed=p["failed"], op=op)
        done = p["succeeded"] + p["failed"]
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task("", total=p["total"] or None, completed=done, **fields)
        else:
            self._bar.update(self._task, total=p["total"] or None, completed=done, **fields)

    def close(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.stop()
            self._task = None

    def __enter__(self) -> "ProgressPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summary(op: dict, outcomes: list[dict]) -> str:
    lines = [f"operation {op['id']} {op['status']}"]
    if op.get("error"):
        lines.append(f"  error: {op['error']['code']}: {op['error']['detail']}")
    for key, value in (op.get("result") or {}).items():
        lines.append(f"  {key}: {value}")
    codes: dict[str, int] = {}
    for o in outcomes:
        label = f"{o['state']}/{o['code']}" if o["code"] else f"{o['state']}/{o['step']}"
        codes[label] = codes.get(label, 0) + 1
    for label, count in sorted(codes.items()):
        lines.append(f"  devices {label}: {count}")
    return "\n".join(lines)

