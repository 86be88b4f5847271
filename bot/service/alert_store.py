"""What alert intake needs from storage, as protocols (the SQLAlchemy unit of work satisfies them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from bot.service.unit_of_work import IncidentStore, Transaction
from domain import Incident
from domain.alerts import Alert, AlertKey, AlertSource, AlertStatus


class AlertIncidentStore(IncidentStore, Protocol):
    async def add_notes(
        self, current: Incident, notes: Sequence[tuple[str, bool]], *, actor_id: str
    ) -> Incident: ...


class CurrentGroupLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def incident_id(self) -> int: ...

    @property
    def truncated_alerts(self) -> int: ...


class GroupSnapshotLike(CurrentGroupLike, Protocol):
    @property
    def known(self) -> Mapping[AlertKey, AlertStatus]: ...


class AlertGroupReadsLike(Protocol):
    async def snapshot(
        self, team_id: str, source: AlertSource, group_key: str
    ) -> GroupSnapshotLike | None: ...


class AlertReader(Protocol):
    """Reads outside any transaction of ours (autocommit): each statement sees one committed state."""

    @property
    def alerts(self) -> AlertGroupReadsLike: ...


class AlertGroupStore(Protocol):
    async def lock_current(
        self, team_id: str, source: AlertSource, group_key: str, *, now: datetime
    ) -> CurrentGroupLike | None: ...

    async def known_alerts(self, group_id: int) -> dict[AlertKey, AlertStatus]: ...

    async def retire(self, group_id: int) -> None: ...

    async def open(
        self, team_id: str, source: AlertSource, group_key: str, *, incident_id: int, now: datetime
    ) -> int | None: ...

    async def add_alerts(
        self, team_id: str, group_id: int, alerts: Iterable[Alert], *, now: datetime
    ) -> None: ...

    async def mark_resolved(self, group_id: int, keys: Iterable[AlertKey], *, now: datetime) -> None: ...

    async def set_truncated(self, group_id: int, truncated_alerts: int) -> None: ...


class AlertUnitOfWork(Transaction, Protocol):
    @property
    def incidents(self) -> AlertIncidentStore: ...

    @property
    def alerts(self) -> AlertGroupStore: ...


class AlertUnitOfWorkFactory(Protocol):
    def __call__(self) -> AlertUnitOfWork: ...

    def reader(self) -> AbstractAsyncContextManager[AlertReader]: ...
