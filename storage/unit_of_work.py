"""The SQLAlchemy unit of work: a change, its timeline event and its outbox row commit together or not
at all. It satisfies `bot.service.unit_of_work.UnitOfWork` (a protocol, so services can be tested with
a fake one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.clock import Clock, utcnow
from storage.alert_groups import AlertGroups
from storage.idempotency import IdempotencyKeys
from storage.incident_reads import ConnectionReads
from storage.pinned_reads import read_connection
from storage.reminders import ReminderPlan, ReminderSchedule
from storage.repository import IncidentRepository


class UnitOfWork:
    """`async with uow: …; await uow.commit()` — anything not committed is rolled back on exit."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = utcnow,
        reminders: ReminderPlan | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._reminder_plan = reminders
        self._session: AsyncSession | None = None
        self._incidents: IncidentRepository | None = None
        self._idempotency: IdempotencyKeys | None = None
        self._alerts: AlertGroups | None = None

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

    @property
    def reminders(self) -> ReminderSchedule:
        return self.incidents.reminders

    @property
    def idempotency(self) -> IdempotencyKeys:
        if self._idempotency is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._idempotency

    @property
    def alerts(self) -> AlertGroups:
        if self._alerts is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._alerts

    def now(self) -> datetime:
        return self._clock()

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self._incidents = IncidentRepository(self._session, clock=self._clock, reminders=self._reminder_plan)
        self._idempotency = IdempotencyKeys(self._session)
        self._alerts = AlertGroups(self._session)
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
            self._idempotency = None
            self._alerts = None

    async def commit(self) -> None:
        await self.session.commit()


class UnitOfWorkFactory:
    """What the composition root hands to services: a fresh unit of work per change, and readers.

    `read_engine` (an autocommit engine) serves lookups and lists in one round trip per query, on a
    bare connection (no ORM session); without one, readers use the writers' engine.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = utcnow,
        read_engine: AsyncEngine | None = None,
        reminders: ReminderPlan | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.read_engine: AsyncEngine = read_engine or session_factory.kw["bind"]
        self.clock = clock
        self.reminders = reminders or ReminderPlan()

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, clock=self.clock, reminders=self.reminders)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[ConnectionReads]:
        """Reads only, on one pooled connection of the read engine (the request's, when it pinned one)."""
        async with read_connection(self.read_engine) as connection:
            yield ConnectionReads(connection)
