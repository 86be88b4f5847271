"""The application layer for incidents: every door (Slack, and later the API, alerts, reminders) calls
these operations, so each rule lives once. No Slack, no HTTP here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.service.refusals import authorized_incident, refuse
from bot.service.unit_of_work import IncidentStore, UnitOfWork, UnitOfWorkFactory
from domain import (
    EventKind,
    IdempotencyKeyReusedError,
    Incident,
    IncidentValidationError,
    InvalidTransitionError,
    ListFilter,
    ListPosition,
    Page,
    Severity,
    StaleVersionError,
    Status,
    TimelineEvent,
)
from domain.incident_lifecycle import decide_transition
from domain.stats import IncidentStats, StatsWindow
from domain.validation import validate_description, validate_note, validate_title

# Attempts at the guarded UPDATE before giving up: each retry means another writer committed first.
MAX_GUARD_ATTEMPTS = 5
# How long an Idempotency-Key stands for the declare it was first sent with (SPEC §10).
IDEMPOTENCY_WINDOW = timedelta(hours=24)
# The events a postmortem draft shows at most; an alert storm's notes beyond them stay in the API.
POSTMORTEM_EVENTS_MAX = 2000


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's Idempotency-Key and a hash of the request it came with."""

    key: str
    body_hash: str


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """Several changes to apply together (the API's PATCH); None leaves a field as it is."""

    status: Status | None = None
    severity: Severity | None = None
    commander_id: str | None = None
    note: str | None = None


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

    async def events_page(
        self, team_id: str, incident_id: int, *, after_id: int, limit: int
    ) -> tuple[list[TimelineEvent], bool]:
        """The timeline oldest first, from after `after_id`; True when more events follow."""
        async with self._uow_factory.reader() as incidents:
            await incidents.get(team_id, incident_id)
            events = await incidents.events_after(team_id, incident_id, after_id=after_id, limit=limit + 1)
        return events[:limit], len(events) > limit

    async def timeline_page(
        self, team_id: str, incident_id: int, *, after_id: int, limit: int
    ) -> tuple[Incident, list[TimelineEvent], bool]:
        """The incident and its timeline from after `after_id` (oldest first); True when more follow."""
        async with self._uow_factory.reader() as incidents:
            incident = await incidents.get(team_id, incident_id)
            events = await incidents.events_after(team_id, incident_id, after_id=after_id, limit=limit + 1)
        return incident, events[:limit], len(events) > limit

    async def whole_timeline(
        self, team_id: str, incident_id: int, *, max_events: int = POSTMORTEM_EVENTS_MAX, batch: int = 500
    ) -> tuple[Incident, list[TimelineEvent], bool]:
        """The incident and up to `max_events` of its events, oldest first, read in pages on one
        connection (the postmortem draft); True when more events exist than were read."""
        async with self._uow_factory.reader() as incidents:
            incident = await incidents.get(team_id, incident_id)
            events: list[TimelineEvent] = []
            while len(events) <= max_events:
                after_id = events[-1].id if events else 0
                wanted = min(batch, max_events + 1 - len(events))
                page = await incidents.events_after(team_id, incident_id, after_id=after_id, limit=wanted)
                events += page
                if len(page) < wanted:
                    break
        return incident, events[:max_events], len(events) > max_events

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

    async def stats(self, team_id: str, window: StatsWindow, *, now: datetime) -> IncidentStats:
        """Incidents declared in `window` up to `now` (the door's clock), and those active now."""
        async with self._uow_factory.reader() as incidents:
            return await incidents.stats(team_id, window, since=window.since(now))

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
        idempotency: IdempotencyKey | None = None,
    ) -> Incident:
        """Anyone may raise the alarm; changing an incident is what INCIDENT_RESPONDERS restricts.

        With an `idempotency` key, the same key and request within 24 h answer with the incident the
        first one declared (the key is claimed before the incident is written, in the same
        transaction); the same key with another request is refused.
        """
        title, description = validate_title(title), validate_description(description)
        async with self._uow_factory() as uow:
            if idempotency is not None:
                now = uow.now()
                held = await uow.idempotency.claim(
                    team_id,
                    idempotency.key,
                    idempotency.body_hash,
                    now=now,
                    not_before=now - IDEMPOTENCY_WINDOW,
                )
                if held is not None:
                    if held.body_hash != idempotency.body_hash or held.incident_id is None:
                        raise IdempotencyKeyReusedError
                    return await uow.incidents.get(team_id, held.incident_id)
            incident = await uow.incidents.declare(
                team_id=team_id,
                title=title,
                reporter_id=actor_id,
                channel_id=channel_id,
                severity=severity,
                description=description,
            )
            if idempotency is not None:
                await uow.idempotency.complete(team_id, idempotency.key, incident.id)
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
            current = await authorized_incident(
                uow,
                team_id,
                incident_id,
                actor_id,
                EventKind.STATUS_CHANGED,
                responders=self._responders,
                target=target,
            )
            moved = await self._move(
                uow, current, target, actor_id, checked_note, expected=expected, verb=verb
            )
            await uow.commit()
        self._on_commit()
        return moved

    async def update(
        self,
        *,
        team_id: str,
        incident_id: int,
        actor_id: str,
        changes: IncidentUpdate,
        expected_version: int | None = None,
    ) -> Incident:
        """Apply several changes in one unit of work: all of them, or (on any refusal) none.

        `expected_version` (`If-Match`) is checked in SQL and holds the row for the rest of the
        transaction. A status move is decided first, so a refused move leaves every field as it was;
        a note travels with the move when there is one. Fields equal to the current ones are no-ops.
        """
        note = validate_note(changes.note) if changes.note is not None else None
        if changes.note is not None and not note and changes.status is None:
            validate_note("", required=True)
        if changes == IncidentUpdate():
            raise IncidentValidationError("Nothing to change: send status, severity, commander_id or note.")
        kind = EventKind.STATUS_CHANGED if changes.status is not None else EventKind.SEVERITY_CHANGED
        async with self._uow_factory() as uow:
            current = await authorized_incident(
                uow, team_id, incident_id, actor_id, kind, responders=self._responders, target=changes.status
            )
            if expected_version is not None:
                locked = await uow.incidents.lock_version(current, expected_version)
                if locked is None:
                    latest = await uow.incidents.get(team_id, incident_id)
                    raise StaleVersionError(expected_version, latest.version)
                current = locked
            if changes.status is not None:
                current = await self._move(uow, current, changes.status, actor_id, note or None)
            if changes.severity is not None and changes.severity != current.severity:
                current = await uow.incidents.change_severity(current, changes.severity, actor_id=actor_id)
            if changes.commander_id is not None and changes.commander_id != current.commander_id:
                current = await uow.incidents.assign_commander(
                    current, changes.commander_id, actor_id=actor_id
                )
            if note and changes.status is None:
                current = await uow.incidents.add_note(current, note, actor_id=actor_id)
            await uow.commit()
        self._on_commit()
        return current

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

    async def _move(
        self,
        uow: UnitOfWork,
        current: Incident,
        target: Status,
        actor_id: str,
        note: str | None,
        *,
        expected: Status | None = None,
        verb: str | None = None,
    ) -> Incident:
        """Decide on the current status, then move with the guarded UPDATE; a lost race decides again
        against the status the winner left (so the loser is told, as a stale card would be). A refusal
        is committed to the timeline, then raised."""
        for _ in range(MAX_GUARD_ATTEMPTS):
            try:
                decide_transition(current.status, target, expected=expected, verb=verb)
            except InvalidTransitionError as refusal:
                await refuse(uow, current, actor_id, EventKind.STATUS_CHANGED, refusal, target)
                raise
            moved = await uow.incidents.move_status(current, target, actor_id=actor_id, note=note)
            if moved is not None:
                return moved
            expected = expected or current.status
            current = await uow.incidents.get(current.team_id, current.id)
        raise GuardContentionError("the incident kept changing; nothing was applied")  # pragma: no cover

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
            current = await authorized_incident(
                uow, team_id, incident_id, actor_id, kind, responders=self._responders
            )
            incident = await apply(uow.incidents, current)
            await uow.commit()
        self._on_commit()
        return incident
