"""Rendering an operation's progress for people at a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

BAR_WIDTH = 30


def progress_line(op: dict) -> str:
    p = op["progress"]
    done = p["succeeded"] + p["failed"]
    filled = int(BAR_WIDTH * done / p["total"]) if p["total"] else 0
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return (f"[{bar}] {op['status']:<10} devices ok={p['succeeded']} failed={p['failed']} "
            f"pending={p['pending']}")


class ProgressPrinter:
    """Redraws one line on a TTY; prints a line per change otherwise."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out
        self._last = ""
        self._tty = out.isatty()

    def __call__(self, op: dict) -> None:
        line = progress_line(op)
        if line == self._last:
            return
        self._last = line
        self._out.write(("\r" + line) if self._tty else line + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._tty and self._last:
            self._out.write("\n")


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
