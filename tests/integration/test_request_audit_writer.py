"""The request audit keeps writing whatever a client sends.

A state-changing request's target is the client's own path: PUT /v1/devices/d%001
names "d\\x001", which PostgreSQL's text type cannot hold. Such an entry used to make
the writer's batch fail with InvalidData, which ended its task; entries then piled up
until the queue was full and every state-changing request waited forever. At shutdown
the same entry made close() raise, and the runtime stopped half way.
"""

from __future__ import annotations

import asyncio

from gridjobs.access import audit_writer
from gridjobs.access.audit_writer import AuditWriter
from gridjobs.store.request_audit import RequestEntry, list_entries


def entry(target: str | None, *, status: int = 201, request_id: str | None = None) -> RequestEntry:
    return RequestEntry(principal="ops", via="token", roles=("operator",), method="PUT",
                        route="/v1/devices/{id}", target=target, request_id=request_id, status=status)


async def stored(pool) -> list[tuple]:
    records = await list_entries(pool, principal=None, before_id=None, limit=100)
    return sorted((r.target, r.request_id, r.status) for r in records)


async def test_a_nul_or_an_undecodable_byte_is_stored_escaped(pool):
    writer = AuditWriter(pool)
    for e in (entry("d\x001"), entry("d2", request_id="r\udcff"), entry("d3")):
        await writer.add(e)
    await writer.close()   # writes what is left, and must not raise
    assert await stored(pool) == [("d2", "r\\udcff", 201), ("d3", None, 201), ("d\\x001", None, 201)]


async def test_an_entry_refused_on_its_own_is_dropped_and_the_writer_goes_on(pool, monkeypatch):
    monkeypatch.setattr(audit_writer, "FLUSH_S", 0.02)
    writer = AuditWriter(pool)
    writer.start()
    try:
        await writer.add(entry("d1"))
        await writer.add(entry("d2", status=2**40))   # out of the column's range: refused
        await writer.add(entry("d3"))
        async with asyncio.timeout(5):
            while len(await stored(pool)) < 2:
                await asyncio.sleep(0.02)
        await writer.add(entry("d4"))   # the writer is still running
        async with asyncio.timeout(5):
            while len(await stored(pool)) < 3:
                await asyncio.sleep(0.02)
    finally:
        await writer.close()
    assert await stored(pool) == [("d1", None, 201), ("d3", None, 201), ("d4", None, 201)]
