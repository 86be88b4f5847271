"""`pinned_reads`: a request's reads share one pooled connection (one checkout, one pre-ping), lazily,
per task, never two users at once; outside a pin every read checks out its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.api_tokens import ApiTokenStore
from storage.database import create_engine
from storage.pinned_reads import pinned_reads, read_connection
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.test_api_tokens import token


@pytest.fixture
async def read_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, read_only=True)
    yield eng
    await eng.dispose()


def count_checkouts(engine: AsyncEngine) -> Callable[[], int]:
    seen: list[object] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: seen.append(None))
    return lambda: len(seen)


async def test_a_pinned_request_checks_out_once_and_gives_it_back(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_engine: AsyncEngine
) -> None:
    store = ApiTokenStore(session_factory, read_engine)
    readers = UnitOfWorkFactory(session_factory, read_engine=read_engine)
    await store.add(token())
    checkouts = count_checkouts(read_engine)

    assert await store.get(token().jti) == token()
    async with readers.reader() as reads:
        assert (await reads.list_incidents("T0TEAM")).items == ()
    assert checkouts() == 2  # unpinned: a checkout (and a pre-ping) per read

    async with pinned_reads(read_engine):
        assert await store.get(token().jti) == token()
        async with readers.reader() as reads:
            assert (await reads.list_incidents("T0TEAM")).items == ()
        async with readers.reader() as reads:
            assert (await reads.list_incidents("T0TEAM")).items == ()
    assert checkouts() == 3
    assert read_engine.sync_engine.pool.checkedout() == 0  # back in the pool at the end of the block


async def test_the_pin_is_lazy_and_only_for_its_engine(engine: AsyncEngine, read_engine: AsyncEngine) -> None:
    checkouts = count_checkouts(read_engine)
    async with pinned_reads(read_engine):
        pass
    assert checkouts() == 0
    async with pinned_reads(engine):  # another engine pinned: the read engine's reads are their own
        async with read_connection(read_engine) as first:
            pass
        async with read_connection(read_engine) as second:
            pass
    assert checkouts() == 2
    assert first is not second


async def test_a_busy_pin_is_never_shared(read_engine: AsyncEngine) -> None:
    async with pinned_reads(read_engine):
        async with read_connection(read_engine) as outer, read_connection(read_engine) as inner:
            assert inner is not outer  # nested: its own connection, not a deadlock or a shared cursor
        async with read_connection(read_engine) as again:
            assert again is outer


async def test_concurrent_requests_pin_their_own(read_engine: AsyncEngine) -> None:
    both_in = asyncio.Barrier(2)

    async def request() -> object:
        async with pinned_reads(read_engine), read_connection(read_engine) as connection:
            await both_in.wait()  # both hold their pinned connection at once
            return connection

    first, second = await asyncio.gather(request(), request())
    assert first is not second
    assert read_engine.sync_engine.pool.checkedout() == 0
