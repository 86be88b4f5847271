"""The application layer for incidents: every door (Slack, and later the API, alerts, reminders) calls
these operations, so each rule lives once. No Slack, no HTTP here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from bot.service.unit_of_work import IncidentStore, UnitOfWork, UnitOfWorkFactory
from domain import (
    EventKind,
    Incident,
    InvalidTransitionError,
    ListFilter,
    ListPosition,
    NotAuthorizedError,
    Page,
    Severity,
    Status,
    TimelineEvent,
)
from domain.authorization import ensure_may_change
from domain.incident_lifecycle import decide_transition
from domain.validation import validate_description, validate_note, validate_title

# Attempts at the guarded UPDATE before giving up: each retry means another writer committed first.
MAX_GUARD_ATTEMPTS = 5


class GuardContentionError(RuntimeError):
    """The status kept changing under us; nothing was applied."""


class IncidentService:
    """Validates, authorizes, decides (domain), writes in one unit of work, commits, wakes the relay.

    A refusal is an outcome, not a failure: its timeline event is committed, then the domain error
    is raised for the door to answer.
    """

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

    # ---- reads ---------------------------------------------------------------------------------

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

    # ---- changes -------------------------------------------------------------------------------

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
        title, description = validate_title(title), validate_description(description)
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
        """Decide on the current status, then move with the guarded UPDATE; a lost race decides again
        against the status the winner left (so the loser is told, as a stale card would be)."""
        checked_note = validate_note(note or "") or None
        async with self._uow_factory() as uow:
            current = await self._authorized(
                uow, team_id, incident_id, actor_id, EventKind.STATUS_CHANGED, target
            )
            for _ in range(MAX_GUARD_ATTEMPTS):
                try:
                    decide_transition(current.status, target, expected=expected, verb=verb)
                except InvalidTransitionError as refusal:
                    await self._refuse(uow, current, actor_id, EventKind.STATUS_CHANGED, refusal, target)
                    raise
                moved = await uow.incidents.move_status(current, target, actor_id=actor_id, note=checked_note)
                if moved is not None:
                    await uow.commit()
                    self._on_commit()
                    return moved
                expected = expected or current.status
                current = await uow.incidents.get(team_id, incident_id)
        raise GuardContentionError("the incident kept changing; nothing was applied")  # pragma: no cover

    async def change_severity(
        self, *, team_id: str, incident_id: int, severity: Severity, actor_id: str
    ) -> Incident:
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.SEVERITY_CHANGED,
            lambda store, current: store.change_severity(current, severity, actor_id=actor_id),
        )

    async def assign(self, *, team_id: str, incident_id: int, commander_id: str, actor_id: str) -> Incident:
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.COMMANDER_ASSIGNED,
            lambda store, current: store.assign_commander(current, commander_id, actor_id=actor_id),
        )

    async def add_note(self, *, team_id: str, incident_id: int, text: str, actor_id: str) -> Incident:
        note = validate_note(text, required=True)
        return await self._change(
            team_id,
            incident_id,
            actor_id,
            EventKind.NOTE_ADDED,
            lambda store, current: store.add_note(current, note, actor_id=actor_id),
        )

    # ---- internals -----------------------------------------------------------------------------

    async def _change(
        self,
        team_id: str,
        incident_id: int,
        actor_id: str,
        kind: EventKind,
        apply: Callable[[IncidentStore, Incident], Awaitable[Incident]],
    ) -> Incident:
        """Authorize, apply one change in its own unit of work, commit, then wake the relay."""
        async with self._uow_factory() as uow:
            current = await self._authorized(uow, team_id, incident_id, actor_id, kind)
            incident = await apply(uow.incidents, current)
            await uow.commit()
        self._on_commit()
        return incident

    async def _authorized(
        self,
        uow: UnitOfWork,
        team_id: str,
        incident_id: int,
        actor_id: str,
        kind: EventKind,
        target: Status | None = None,
    ) -> Incident:
        """The incident, once the actor may change it; a refusal is kept in the timeline, then raised."""
        current = await uow.incidents.get(team_id, incident_id)
        try:
            ensure_may_change(actor_id, self._responders)
        except NotAuthorizedError as refusal:
            await self._refuse(uow, current, actor_id, kind, refusal, target, reason="not_a_responder")
            raise
        return current

    async def _refuse(
        self,
        uow: UnitOfWork,
        current: Incident,
        actor_id: str,
        kind: EventKind,
        refusal: Exception,
        target: Status | None,
        *,
        reason: str | None = None,
    ) -> None:
        await uow.incidents.record_refusal(
            current,
            actor_id=actor_id,
            kind=kind,
            detail=str(refusal),
            reason=reason or type(refusal).__name__,
            target=target,
        )
        await uow.commit()
