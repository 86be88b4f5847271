"""What the application layer needs from storage, as protocols: the SQLAlchemy unit of work satisfies
them, and service tests hand in a fake one (cosmicpython's `AbstractUnitOfWork`)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from domain import EventKind, Incident, ListFilter, ListPosition, Page, Severity, Status, TimelineEvent
from domain.stats import IncidentStats, StatsWindow


class IncidentReader(Protocol):
    async def get(self, team_id: str, incident_id: int) -> Incident: ...

    async def timeline(self, team_id: str, incident_id: int, *, limit: int = 5) -> list[TimelineEvent]: ...

    async def events_after(
        self, team_id: str, incident_id: int, *, after_id: int = 0, limit: int = 50
    ) -> list[TimelineEvent]: ...

    async def list_incidents(
        self,
        team_id: str,
        *,
        list_filter: ListFilter = ListFilter.ALL,
        severity: Severity | None = None,
        after: ListPosition | None = None,
        limit: int = 10,
    ) -> Page: ...

    async def stats(self, team_id: str, window: StatsWindow, *, since: datetime | None) -> IncidentStats: ...


class IncidentStore(IncidentReader, Protocol):
    """Reads, and writes of values the service has validated and decided on."""

    async def declare(
        self,
        *,
        team_id: str,
        title: str,
        reporter_id: str,
        channel_id: str,
        severity: Severity,
        description: str = "",
    ) -> Incident: ...

    async def move_status(
        self, current: Incident, target: Status, *, actor_id: str, note: str | None = None
    ) -> Incident | None: ...

    async def lock_version(self, current: Incident, version: int) -> Incident | None: ...

    async def change_severity(self, current: Incident, severity: Severity, *, actor_id: str) -> Incident: ...

    async def assign_commander(self, current: Incident, commander_id: str, *, actor_id: str) -> Incident: ...

    async def add_note(
        self, current: Incident, note: str, *, actor_id: str, automatic: bool = False
    ) -> Incident: ...

    async def record_refusal(
        self,
        incident: Incident,
        *,
        actor_id: str,
        kind: EventKind,
        detail: str,
        reason: str,
        target: Status | None = None,
    ) -> None: ...


class IdempotencyRecordLike(Protocol):
    @property
    def body_hash(self) -> str: ...

    @property
    def incident_id(self) -> int | None: ...


class IdempotencyStore(Protocol):
    """Idempotency-Key claims, in the unit of work of the declare they guard."""

    async def claim(
        self, team_id: str, key: str, body_hash: str, *, now: datetime, not_before: datetime
    ) -> IdempotencyRecordLike | None: ...

    async def complete(self, team_id: str, key: str, incident_id: int) -> None: ...


class Transaction(Protocol):
    """`async with uow: …; await uow.commit()`; whatever is not committed is rolled back on exit.
    Each service's unit of work adds the stores it uses."""

    def now(self) -> datetime: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class IncidentTransaction(Transaction, Protocol):
    @property
    def incidents(self) -> IncidentStore: ...


class UnitOfWork(IncidentTransaction, Protocol):
    @property
    def idempotency(self) -> IdempotencyStore: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

    def reader(self) -> AbstractAsyncContextManager[IncidentReader]: ...
