"""asyncio helpers the package shares."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable


async def gather_all(*awaitables: Awaitable[Any]) -> list[Any]:
    """Run them at once, every one to its end; then raise the first error (in argument
    order), or return their results. Unlike a plain `gather`, no sibling is left running
    when one fails, and the error comes as itself, not as an ExceptionGroup."""
    done = await asyncio.gather(*awaitables, return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
    return done
