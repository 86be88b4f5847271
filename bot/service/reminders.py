"""The application layer for update reminders' buttons (SPEC §13): snooze, and the check before the
Add update form opens. Adding the update itself is `IncidentService.add_note` (which re-plans)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Protocol

from bot.service.refusals import authorized_incident
from bot.service.unit_of_work import IncidentReader, IncidentTransaction
from domain import ACTIVE_STATUSES, EventKind, Incident
from domain.authorization import ensure_may_change
from domain.reminders import RemindersStoppedError


class ReminderScheduleLike(Protocol):
    async def snooze(self, incident: Incident, *, actor_id: str) -> timedelta | None: ...


class ReminderUnitOfWork(IncidentTransaction, Protocol):
    @property
    def reminders(self) -> ReminderScheduleLike: ...


class ReminderUnitOfWorkFactory(Protocol):
    def __call__(self) -> ReminderUnitOfWork: ...

    def reader(self) -> AbstractAsyncContextManager[IncidentReader]: ...


class ReminderService:
    def __init__(
        self,
        uow_factory: ReminderUnitOfWorkFactory,
        *,
        responders: Collection[str] | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._responders = responders
        self._on_commit = on_commit

    async def ready_for_update(self, *, team_id: str, incident_id: int, actor_id: str) -> Incident:
        """The incident the Add update form is for, once the actor may change it and it is active."""
        async with self._uow_factory.reader() as incidents:
            incident = await incidents.get(team_id, incident_id)
        ensure_may_change(actor_id, self._responders)
        if incident.status not in ACTIVE_STATUSES:
            raise RemindersStoppedError(incident, doing="update from this reminder")
        return incident

    async def snooze(self, *, team_id: str, incident_id: int, actor_id: str) -> tuple[Incident, timedelta]:
        """Move the next reminder one cadence from now; a refusal (not a responder) is kept in the
        timeline like any refused change."""
        async with self._uow_factory() as uow:
            current = await authorized_incident(
                uow, team_id, incident_id, actor_id, EventKind.REMINDER_SNOOZED, responders=self._responders
            )
            after = await uow.reminders.snooze(current, actor_id=actor_id)
            if after is None:
                raise RemindersStoppedError(current, doing="snooze")
            await uow.commit()
        self._on_commit()
        return current, after
