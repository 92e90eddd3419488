"""Wake: a stream of wakes is coalesced into few passes, and none is lost."""

from __future__ import annotations

import asyncio

from gridjobs.outbox.waking import Wake

WAKES = 20
# Long against the producer's whole burst (20 wakes, 10 ms apart), so that the burst
# falls in one or two coalescing intervals even on a loaded machine.
COALESCE_S = 2.0
POLL_S = 30.0    # the backstop poll never fires here: every pass is a wake's


async def test_a_burst_of_wakes_is_a_few_passes_and_the_last_wake_gets_one() -> None:
    wake = Wake(coalesce_s=COALESCE_S)
    sent = 0
    seen: list[int] = []      # the wakes sent when each pass ran

    async def loop() -> None:
        while not seen or seen[-1] < WAKES:
            await wake.nap(POLL_S)
            seen.append(sent)

    async def producer() -> None:
        nonlocal sent
        for _ in range(WAKES):
            sent += 1
            wake.set()
            await asyncio.sleep(0.01)

    async with asyncio.timeout(POLL_S):
        await asyncio.gather(loop(), producer())
    assert seen[0] == 1                 # a lone wake (the first) goes at once
    assert seen[-1] == WAKES            # the last wake is not lost
    assert len(seen) <= 3               # not one pass per wake
