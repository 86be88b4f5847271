"""What listeners call: one operation per responder action, each in its own unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from domain import (
    EventKind,
    Incident,
    ListFilter,
    ListPosition,
    NotAuthorizedError,
    Page,
    Severity,
    Status,
    TimelineEvent,
)
from domain.authorization import ensure_may_change
from storage.repository import IncidentRepository
from storage.unit_of_work import UnitOfWork, UnitOfWorkFactory


class IncidentService:
    """Authorizes, runs the change in a unit of work, commits, then wakes the outbox relay."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        responders: Collection[str] | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._responders = responders
        self._on_commit = on_commit

    async def declare(
        self,
        *,
        team_id: str,
        actor_id: str,
        channel_id: str,
        title: str,
        severity: Severity,
        description: str = "",
    ) -> Incident:
        """Anyone may raise the alarm; changing an incident is what INCIDENT_RESPONDERS restricts."""
        async with self._uow_factory() as uow:
            incident = await uow.incidents.declare(
                team_id=team_id,
                title=title,
                reporter_id=actor_id,
                channel_id=channel_id,
                severity=severity,
                description=description,
            )
            await uow.commit()
        self._on_commit()
        return incident

    async def show(
        self, team_id: str, incident_id: int, *, timeline: int = 5
    ) -> tuple[Incident, list[TimelineEvent]]:
        async with self._uow_factory.reader() as incidents:
            incident = await incidents.get(team_id, incident_id)
            return incident, await incidents.timeline(team_id, incident_id, limit=timeline)

    async def get(self, team_id: str, incident_id: int) -> Incident:
        async with self._uow_factory.reader() as incidents:
            return await incidents.get(team_id, incident_id)

    async def list_page(
        self,
        team_id: str,
        *,
        list_filter: ListFilter,
        severity: Severity | None,
        after: ListPosition | None,
        limit: int,
    ) -> Page:
        async with self._uow_factory.reader() as incidents:
            return await incidents.list_incidents(
                team_id, list_filter=list_filter, severity=severity, after=after, limit=limit
            )

    async def transition(
        self,
        *,
        team_id: str,
        incident_id: int,
        target: Status,
        actor_id: str,
        note: str | None = None,
        expected: Status | None = None,
        verb: str | None = None,
    ) -> Incident:
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.STATUS_CHANGED,
            lambda repo: repo.update_status(
                team_id, incident_id, target, actor_id=actor_id, note=note, expected=expected, verb=verb
            ),
            target=target,
        )

    async def change_severity(
        self, *, team_id: str, incident_id: int, severity: Severity, actor_id: str
    ) -> Incident:
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.SEVERITY_CHANGED,
            lambda repo: repo.change_severity(team_id, incident_id, severity, actor_id=actor_id),
        )

    async def assign(self, *, team_id: str, incident_id: int, commander_id: str, actor_id: str) -> Incident:
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.COMMANDER_ASSIGNED,
            lambda repo: repo.assign_commander(team_id, incident_id, commander_id, actor_id=actor_id),
        )

    async def add_note(self, *, team_id: str, incident_id: int, text: str, actor_id: str) -> Incident:
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.NOTE_ADDED,
            lambda repo: repo.add_note(team_id, incident_id, text, actor_id=actor_id),
        )

    async def _change(
        self,
        team_id: str,
        incident_id: int,
        actor_id: str,
        kind: EventKind,
        apply: Callable[[IncidentRepository], Awaitable[Incident]],
        *,
        target: Status | None = None,
    ) -> Incident:
        """Authorize, apply one change in its own unit of work, commit, then wake the relay."""
        async with self._uow_factory() as uow:
            await self._authorize(uow, team_id, incident_id, actor_id, kind, target)
            incident = await apply(uow.incidents)
            await uow.commit()
        self._on_commit()
        return incident

    async def _authorize(
        self,
        uow: UnitOfWork,
        team_id: str,
        incident_id: int,
        actor_id: str,
        kind: EventKind,
        target: Status | None = None,
    ) -> None:
        """Refuse (and keep the refusal in the timeline) when the actor is not a responder."""
        try:
            ensure_may_change(actor_id, self._responders)
        except NotAuthorizedError as refusal:
            incident = await uow.incidents.get(team_id, incident_id)
            await uow.incidents.record_refusal(
                incident, actor_id=actor_id, kind=kind, detail=str(refusal), target=target
            )
            raise
