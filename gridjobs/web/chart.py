"""A feeder's kW over an operation's lifetime, rebuilt from what was recorded, drawn as SVG (pure).

The points come from the operation's own records: the survey reading of each
of the feeder's devices (its checkpoint) at the start; each shed device's
measured reduction from the start of the hold (hold_until − hold_s) or, if
unknown, from its outcome's time; and each restored device's reduction given
back at its outcome's time. Between points the line steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Sequence

from adapters import Role
from gridjobs.records import Operation, Outcome

WIDTH, HEIGHT, PAD = 720, 240, 40


@dataclass(frozen=True)
class Point:
    t: float   # epoch seconds
    kw: float


def feeder_series(op: Operation, outcomes: Sequence[Outcome], feeder_devices: set[str],
                  now: float) -> list[Point]:
    readings = op.checkpoint.get("readings", {})
    base = sum(float(r.get(Role.MEASURED_KW.value, 0.0)) for d, r in readings.items() if d in feeder_devices)
    start = (op.started_at or op.created_at).timestamp()
    end = op.finished_at.timestamp() if op.finished_at else now
    changes: list[tuple[float, float]] = []
    hold_start = _hold_start(op)
    for o in outcomes:
        reduction = float(o.data.get("reduction_kw", 0.0))
        if o.device_id not in feeder_devices or reduction <= 0:
            continue
        at = o.updated_at.timestamp() if o.updated_at else end
        changes.append((min(hold_start or at, at), -reduction))
        if o.data.get("restored"):
            changes.append((at, reduction))
    points, level = [Point(start, base)], base
    for at, delta in sorted(changes):
        level += delta
        points.append(Point(max(at, start), level))
    points.append(Point(max(end, points[-1].t), level))
    return points


def _hold_start(op: Operation) -> float | None:
    until, hold = op.checkpoint.get("hold_until"), op.params.get("hold_s")
    return None if until is None or hold is None else float(until) - float(hold)


def svg(points: Sequence[Point], *, title: str) -> str:
    """A step chart with time and kW axes; no script, no external reference."""
    if len(points) < 2:
        return f'<svg class="chart" role="img" aria-label="{escape(title)}: no data"></svg>'
    t0, t1 = points[0].t, max(points[-1].t, points[0].t + 1)
    top = max(p.kw for p in points) * 1.1 or 1.0

    def x(t: float) -> float:
        return PAD + (t - t0) / (t1 - t0) * (WIDTH - 2 * PAD)

    def y(kw: float) -> float:
        return HEIGHT - PAD - kw / top * (HEIGHT - 2 * PAD)

    path = [f"M{x(points[0].t):.1f},{y(points[0].kw):.1f}"]
    for p in points[1:]:
        path.append(f"H{x(p.t):.1f}V{y(p.kw):.1f}")
    labels = [f'<text x="{PAD - 4}" y="{y(v):.1f}" text-anchor="end">{v:.0f}</text>' for v in (0, top / 1.1)]
    times = [f'<text x="{x(t):.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{_clock(t)}</text>'
             for t in (t0, (t0 + t1) / 2, t1)]
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>'
            f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'
            f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>'
            f'{"".join(labels)}{"".join(times)}<text x="{PAD}" y="{PAD - 10}">kW</text>'
            f'<path class="series" d="{"".join(path)}"/></svg>')


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S")
