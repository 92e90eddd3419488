"""The store boundary: a driver failure is a StoreError (503, retried by a heartbeat), never
an unexpected exception that would end a run as if its lease were lost."""

from __future__ import annotations

import asyncpg
import pytest

from gridjobs.errors import StoreError
from gridjobs.store.database import translated


@pytest.mark.parametrize("failure", [
    asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is shutting down"),
    ConnectionResetError("reset by peer"),
])
async def test_a_driver_failure_is_a_store_error(failure: Exception) -> None:
    @translated
    async def read() -> None:
        raise failure

    with pytest.raises(StoreError) as raised:
        await read()
    assert "cannot switch" not in str(raised.value)   # the driver's words stay in the log
