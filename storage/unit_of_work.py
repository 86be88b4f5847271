"""The SQLAlchemy unit of work: a change, its timeline event and its outbox row commit together or not
at all. It satisfies `bot.service.unit_of_work.UnitOfWork` (a protocol, so services can be tested with
a fake one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock, utcnow
from storage.repository import IncidentRepository


class UnitOfWork:
    """`async with uow: …; await uow.commit()` — anything not committed is rolled back on exit."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, clock: Clock = utcnow) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._session: AsyncSession | None = None
        self._incidents: IncidentRepository | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._session

    @property
    def incidents(self) -> IncidentRepository:
        if self._incidents is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._incidents

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self._incidents = IncidentRepository(self._session, clock=self._clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            await session.rollback()
        finally:
            await session.close()
            self._session = None
            self._incidents = None

    async def commit(self) -> None:
        await self.session.commit()


class UnitOfWorkFactory:
    """What the composition root hands to services: a fresh unit of work per change, and readers.

    `read_session_factory` (an autocommit engine's) serves lookups and lists in one round trip per
    query; without one, readers use the writers' sessions.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = utcnow,
        read_session_factory: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.read_session_factory = read_session_factory or session_factory
        self.clock = clock

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, clock=self.clock)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[IncidentRepository]:
        """The repository for reads only: nothing it is asked to write is ever committed."""
        async with self.read_session_factory() as session:
            yield IncidentRepository(session, clock=self.clock)
