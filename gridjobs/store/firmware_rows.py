"""How firmware images are laid out in Postgres: fixed-size rows of one image.

Both the API's range reads and the shards' chunk reads use this arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

STORAGE_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class RowSpan:
    first: int   # first row index
    last: int    # last row index (inclusive)
    start: int   # where the range starts inside the first row

    def cut(self, joined: bytes, length: int) -> bytes:
        """The range, out of the rows first..last joined."""
        return joined[self.start:self.start + length]


def row_span(offset: int, length: int, *, row_bytes: int = STORAGE_CHUNK_BYTES) -> RowSpan:
    """The rows holding `length` (> 0) bytes from `offset`."""
    first, last = offset // row_bytes, (offset + length - 1) // row_bytes
    return RowSpan(first, last, offset - first * row_bytes)
