"""Firmware artifacts: an upload streamed into fixed-size rows; byte ranges read back.

An upload is hashed and written in STORAGE_CHUNK_BYTES rows as it arrives,
inside one transaction, so a refused or failed upload leaves nothing behind
and no image is ever held whole in memory.

Dedupe: within one profile a version names one image, and an image carries
one version. The same bytes, version and profile again return the existing
artifact. The same bytes under another version, or other bytes under a taken
version, are a Conflict: a device confirms an update by the version it
reports, so version and bytes must never disagree. Profiles are independent.
"""

from __future__ import annotations

import hashlib
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterable, AsyncIterator
from uuid import UUID, uuid4

import asyncpg

from gridjobs.errors import (
    Conflict, GridjobsError, NotFound, PayloadTooLarge, StoreError, ValidationFailed,
)
from gridjobs.records import FirmwareArtifact
from gridjobs.store.database import translated
from gridjobs.store.firmware_rows import STORAGE_CHUNK_BYTES, row_span
from gridjobs.store.queries import Q


class RangeNotSatisfiable(GridjobsError):
    status = 416
    title = "Range not satisfiable"
    type_slug = "range-not-satisfiable"


@dataclass(frozen=True)
class Stored:
    artifact: FirmwareArtifact
    created: bool  # False: these bytes, version and profile were already stored


async def rechunk(pieces: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup arbitrary pieces into `size`-byte pieces (the last may be shorter)."""
    buffer = bytearray()
    async for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


@translated
async def store_artifact(
    pool: asyncpg.Pool, body: AsyncIterable[bytes], *, version: str, profile: str, max_bytes: int
) -> Stored:
    """Store the streamed image in one transaction, or return the identical artifact."""
    artifact_id = uuid4()
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            sha256, size = await _write_chunks(conn, artifact_id, body, max_bytes)
            row = await conn.fetchrow(Q["insert_firmware_artifact"],
                                      artifact_id, version, profile, sha256, size)
            existing = None if row else await _identical(conn, sha256, profile, version)
        except BaseException:
            await tx.rollback()
            raise
        if existing is not None:
            await tx.rollback()  # drop the chunks just written: the image is already stored
            return Stored(existing, created=False)
        await tx.commit()
    return Stored(FirmwareArtifact.from_row(row), created=True)


async def _write_chunks(
    conn: asyncpg.Connection, artifact_id: UUID, body: AsyncIterable[bytes], max_bytes: int
) -> tuple[str, int]:
    digest, size, idx = hashlib.sha256(), 0, 0
    async with aclosing(rechunk(body, STORAGE_CHUNK_BYTES)) as pieces:
        async for piece in pieces:
            size += len(piece)
            if size > max_bytes:
                raise PayloadTooLarge(f"firmware image exceeds the limit of {max_bytes} bytes")
            digest.update(piece)
            await conn.execute(Q["insert_firmware_chunk"], artifact_id, idx, piece)
            idx += 1
    if size == 0:
        raise ValidationFailed("firmware image is empty: send the image bytes as the body",
                               extra={"errors": [{"field": "body", "message": "must not be empty"}]})
    return digest.hexdigest(), size


async def _identical(
    conn: asyncpg.Connection, sha256: str, profile: str, version: str
) -> FirmwareArtifact:
    """The stored artifact equal to this upload, or the Conflict that blocked it."""
    found = [FirmwareArtifact.from_row(r)
             for r in await conn.fetch(Q["find_firmware_artifact"], sha256, profile, version)]
    if not found:
        raise Conflict("a concurrent change blocked this upload; retry it")
    first = found[0]
    if first.sha256 == sha256 and first.version == version:
        return first
    if first.sha256 == sha256:
        detail = (f"these bytes are already stored for profile {profile!r} as version "
                  f"{first.version!r} (artifact {first.id}); one image carries one version")
    else:
        detail = (f"profile {profile!r} already has a different image as version {version!r} "
                  f"(artifact {first.id}, sha256 {first.sha256}); one version names one image")
    raise Conflict(detail, extra={"existing": f"/v1/firmware/{first.id}"})


async def _get(conn: asyncpg.Connection | asyncpg.Pool, artifact_id: UUID) -> FirmwareArtifact:
    row = await conn.fetchrow(Q["get_firmware_artifact"], artifact_id)
    if row is None:
        raise NotFound(f"firmware artifact {artifact_id} does not exist")
    return FirmwareArtifact.from_row(row)


@translated
async def get_artifact(pool: asyncpg.Pool, artifact_id: UUID) -> FirmwareArtifact:
    return await _get(pool, artifact_id)


@translated
async def list_artifacts(
    pool: asyncpg.Pool, *, profile: str | None, before: tuple[datetime, UUID] | None, limit: int
) -> list[FirmwareArtifact]:
    """Newest first; `before` is the (created_at, id) of the last artifact already seen."""
    created, artifact_id = before if before else (None, None)
    rows = await pool.fetch(Q["list_firmware_artifacts"], profile, created, artifact_id, limit)
    return [FirmwareArtifact.from_row(r) for r in rows]


@translated
async def read_range(pool: asyncpg.Pool, artifact_id: UUID, offset: int, length: int) -> bytes:
    """`length` bytes of the image from `offset`, reading only the rows they lie in."""
    artifact = await _get(pool, artifact_id)
    if offset < 0 or length < 0 or offset + length > artifact.size:
        raise RangeNotSatisfiable(f"bytes {offset}..{offset + length} are outside firmware "
                                  f"artifact {artifact_id} of {artifact.size} bytes")
    if length == 0:
        return b""
    span = row_span(offset, length)
    rows = await pool.fetch(Q["artifact_chunks_between"], artifact_id, span.first, span.last)
    if len(rows) != span.last - span.first + 1:
        raise StoreError(f"firmware artifact {artifact_id} is missing rows {span.first}..{span.last}")
    return span.cut(b"".join(r["data"] for r in rows), length)


@translated
async def firmware_for_rollout(
    conn: asyncpg.Connection | asyncpg.Pool, firmware_id: UUID
) -> FirmwareArtifact:
    """The artifact a rollout names; an unknown one is a validation error of its params."""
    row = await conn.fetchrow(Q["get_firmware_artifact"], firmware_id)
    if row is None:
        message = f"firmware artifact {firmware_id} does not exist"
        raise ValidationFailed(f"invalid request: params.firmware_id: {message}",
                               extra={"errors": [{"field": "params.firmware_id", "message": message}]})
    return FirmwareArtifact.from_row(row)
