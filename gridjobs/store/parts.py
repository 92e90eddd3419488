"""A large write split into parts, written at once: each part its own statement, on its
own pooled connection, committed on its own.

PostgreSQL runs a statement in one backend, on one core. A write of about a thousand
rows (a step's outcomes, a shard's device state after a curtail) costs tens of
milliseconds of that core, often at a moment when nothing else is running: its parts,
written side by side, take about half as long on a machine with two cores or more.
Only for rows that stand each on its own (one per device): a crash between the parts'
commits leaves some of them written and the others not.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence, TypeVar

from gridjobs.aio import gather_all

T = TypeVar("T")


async def write_in_parts(rows: Sequence[T], write: Callable[[Sequence[T], int], Awaitable[None]], *,
                         split_above: int, parts: int) -> None:
    """`write(part, index)` for up to `parts` near-equal slices of `rows` at once, one slice
    if there are at most `split_above` rows. Every part runs to its end; then the first
    error, if any, is raised."""
    if not rows:
        return
    count = max(1, min(parts, -(-len(rows) // split_above)))
    size = -(-len(rows) // count)
    await gather_all(*(write(rows[i:i + size], n) for n, i in enumerate(range(0, len(rows), size))))
