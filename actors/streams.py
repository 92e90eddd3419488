"""Merging the chunk streams of several shards into one, as the chunks come.

`merged` runs one pump task per stream (owned here: cancelled and awaited when the
merged stream ends, fails or is closed early) through one bounded queue, so a
slow consumer holds the pumps back instead of piling chunks up. A stream that
raises ends the merged stream with its exception.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import AsyncIterator, Sequence, TypeVar

T = TypeVar("T")

QUEUE_BOUND = 8   # chunks waiting for the consumer, from all the streams together
_END, _FAILED, _ITEM = range(3)


async def merged(streams: Sequence[AsyncIterator[T]], *, bound: int = QUEUE_BOUND) -> AsyncIterator[T]:
    if len(streams) == 1:   # nothing to interleave: no task, no queue
        async with aclosing(streams[0]) as only:
            async for item in only:
                yield item
        return
    queue: asyncio.Queue[tuple[int, object]] = asyncio.Queue(maxsize=bound)

    async def pump(stream: AsyncIterator[T]) -> None:
        try:
            async with aclosing(stream) as source:
                async for item in source:
                    await queue.put((_ITEM, item))
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # the consumer raises it
            await queue.put((_FAILED, exc))
            return
        await queue.put((_END, None))

    pumps = [asyncio.ensure_future(pump(stream)) for stream in streams]
    try:
        running = len(pumps)
        while running:
            kind, payload = await queue.get()
            if kind == _ITEM:
                yield payload   # type: ignore[misc]
            elif kind == _FAILED:
                raise payload   # type: ignore[misc]
            else:
                running -= 1
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
