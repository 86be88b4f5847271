"""`IncidentRepository`: the one door to incident data (ADR-001). Every method is scoped by team."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, Result, func, literal, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import (
    DEFAULT_SEVERITY,
    EventKind,
    Incident,
    IncidentNotFoundError,
    InvalidTransitionError,
    ListFilter,
    ListPosition,
    Page,
    Severity,
    StaleStatusError,
    Status,
    TimelineEvent,
    allowed_targets,
    validate_status_transition,
)
from domain.incident_lifecycle import validate_verb
from domain.validation import validate_description, validate_note, validate_title
from storage import queries
from storage.change_log import ChangeLog
from storage.mapping import event_from_row, incident_from_row
from storage.models import IncidentRow, UTCDateTime

Clock = Callable[[], datetime]

# Attempts at the guarded UPDATE before giving up: each retry means another writer committed first.
_MAX_GUARD_ATTEMPTS = 5

_STAMPS: dict[Status, Any] = {
    Status.ACKNOWLEDGED: IncidentRow.acknowledged_at,
    Status.MITIGATED: IncidentRow.mitigated_at,
    Status.RESOLVED: IncidentRow.resolved_at,
    Status.CLOSED: IncidentRow.closed_at,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class IncidentRepository:
    """Reads return domain values; writes add the timeline event and outbox row to the same session.

    Transaction boundaries belong to the unit of work, not to this class.
    """

    def __init__(self, session: AsyncSession, *, clock: Clock = utcnow) -> None:
        self._session = session
        self._clock = clock
        self._log = ChangeLog(session)

    @property
    def refusals(self) -> list[dict[str, Any]]:
        """Refused attempts of this session: kept by the unit of work even when the rest rolls back."""
        return self._log.refusals

    # ---- reads ---------------------------------------------------------------------------------

    async def get(self, team_id: str, incident_id: int) -> Incident:
        row = (await self._read(queries.incident_by_id(), team_id=team_id, incident_id=incident_id)).first()
        if row is None:
            raise IncidentNotFoundError(incident_id)
        return incident_from_row(row)

    async def timeline(self, team_id: str, incident_id: int, *, limit: int = 5) -> list[TimelineEvent]:
        """The latest `limit` events, oldest first."""
        result = await self._read(
            queries.latest_events(), team_id=team_id, incident_id=incident_id, limit=limit
        )
        return [event_from_row(r) for r in reversed(result.all())]

    async def list_incidents(
        self,
        team_id: str,
        *,
        list_filter: ListFilter = ListFilter.ALL,
        severity: Severity | None = None,
        after: ListPosition | None = None,
        limit: int = 10,
    ) -> Page:
        """Newest first on the compound key `(created_at, id)`; one extra row says whether more exist."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        statuses = list_filter.statuses()
        params: dict[str, Any] = {"team_id": team_id, "limit": limit + 1}
        if severity is not None:
            params["severity"] = severity.value
        if after is not None:
            params.update(after_created_at=after.created_at, after_id=after.incident_id)
        statement = queries.incident_page(
            tuple(sorted(statuses)) if statuses is not None else None,
            severity is not None,
            after is not None,
            self._session.get_bind().dialect.name == "sqlite",
        )
        rows = (await self._read(statement, **params)).all()
        items = tuple(incident_from_row(r) for r in rows[:limit])
        next_position = None
        if len(rows) > limit:
            last = items[-1]
            next_position = ListPosition(created_at=last.created_at, incident_id=last.id)
        return Page(items=items, next_position=next_position)

    async def _read(self, statement: Executable, **params: Any) -> Result[Any]:
        """Core execution on the session's connection: Core rows, no ORM loading on the read path."""
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    async def list_open(self, team_id: str, *, after: ListPosition | None = None, limit: int = 10) -> Page:
        return await self.list_incidents(team_id, list_filter=ListFilter.ACTIVE, after=after, limit=limit)

    async def list_by_severity(
        self, team_id: str, severity: Severity, *, after: ListPosition | None = None, limit: int = 10
    ) -> Page:
        return await self.list_incidents(team_id, severity=severity, after=after, limit=limit)

    # ---- writes --------------------------------------------------------------------------------

    async def declare(
        self,
        *,
        team_id: str,
        title: str,
        reporter_id: str,
        channel_id: str,
        severity: Severity = DEFAULT_SEVERITY,
        description: str = "",
    ) -> Incident:
        now = self._clock()
        row = IncidentRow(
            team_id=team_id,
            title=validate_title(title),
            description=validate_description(description),
            severity=Severity(severity).value,
            status=Status.OPEN.value,
            reporter_id=reporter_id,
            channel_id=channel_id,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self._session.add(row)
        await self._session.flush()
        incident = incident_from_row(row)
        self._log.declared(incident, now=now)
        return incident

    async def update_status(
        self,
        team_id: str,
        incident_id: int,
        target: Status,
        *,
        actor_id: str,
        note: str | None = None,
        expected: Status | None = None,
        verb: str | None = None,
    ) -> Incident:
        """Validate, then move with `UPDATE … WHERE status = :from`; refusals are recorded, then raised.

        `expected` is the status the actor saw (a card's button): if the incident has left it, nothing
        applies, even when the move would be legal from the new status.
        """
        note = validate_note(note or "") or None
        for _ in range(_MAX_GUARD_ATTEMPTS):
            current = await self.get(team_id, incident_id)
            try:
                if expected is not None and current.status != expected:
                    raise StaleStatusError(expected, current.status, target, allowed_targets(current.status))
                validate_status_transition(current.status, target)
                if verb is not None:
                    validate_verb(verb, current.status)
            except InvalidTransitionError as refusal:
                await self._refuse_transition(current, target, actor_id, refusal)
                raise
            moved = await self._guarded_move(current, target)
            if moved is not None:
                self._log.accepted(
                    moved,
                    actor_id=actor_id,
                    kind=EventKind.STATUS_CHANGED,
                    audit_event="incident.transition.accepted",
                    detail=note,
                    from_status=current.status.value,
                    to_status=target.value,
                    note=note,
                )
                return moved
            # Another writer changed the status between our read and our UPDATE: decide again.
            if expected is None:
                expected = current.status
        raise RuntimeError("status guard kept losing; giving up")  # pragma: no cover - needs 5 races

    async def change_severity(
        self, team_id: str, incident_id: int, severity: Severity, *, actor_id: str
    ) -> Incident:
        current = await self.get(team_id, incident_id)
        changed = await self._bump(current, severity=severity.value)
        self._log.accepted(
            changed,
            actor_id=actor_id,
            kind=EventKind.SEVERITY_CHANGED,
            audit_event="incident.severity.changed",
            detail=f"{current.severity.value} → {severity.value}",
            from_severity=current.severity.value,
            to_severity=severity.value,
        )
        return changed

    async def assign_commander(
        self, team_id: str, incident_id: int, commander_id: str, *, actor_id: str
    ) -> Incident:
        current = await self.get(team_id, incident_id)
        changed = await self._bump(current, commander_id=commander_id)
        self._log.accepted(
            changed,
            actor_id=actor_id,
            kind=EventKind.COMMANDER_ASSIGNED,
            audit_event="incident.commander.assigned",
            detail=commander_id,
            commander_id=commander_id,
        )
        return changed

    async def add_note(self, team_id: str, incident_id: int, text: str, *, actor_id: str) -> Incident:
        note = validate_note(text, required=True)
        current = await self.get(team_id, incident_id)
        changed = await self._bump(current)
        self._log.accepted(
            changed,
            actor_id=actor_id,
            kind=EventKind.NOTE_ADDED,
            audit_event="incident.note.added",
            detail=note,
            note=note,
        )
        return changed

    async def record_refusal(
        self, incident: Incident, *, actor_id: str, kind: EventKind, detail: str, target: Status | None = None
    ) -> None:
        """Keep a refused attempt (e.g. an actor who is not a responder) in the timeline."""
        await self._log.refused(
            incident,
            actor_id=actor_id,
            kind=kind,
            target=target,
            detail=detail,
            reason="not_a_responder",
            now=self._clock(),
        )

    # ---- internals -----------------------------------------------------------------------------

    async def _guarded_move(self, current: Incident, target: Status) -> Incident | None:
        now = self._clock()
        values: dict[str, Any] = {
            "status": target.value,
            "version": IncidentRow.version + 1,
            "updated_at": now,
        }
        stamp = _STAMPS.get(target)
        if stamp is not None:
            values[stamp.key] = func.coalesce(stamp, literal(now, UTCDateTime()))
        result = await self._session.execute(
            update(IncidentRow)
            .where(
                IncidentRow.team_id == current.team_id,
                IncidentRow.id == current.id,
                IncidentRow.status == current.status.value,
            )
            .values(**values)
            .returning(*IncidentRow.__table__.c)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return incident_from_row(row) if row is not None else None

    async def _bump(self, current: Incident, **values: Any) -> Incident:
        """Apply a non-status change; the row lock it takes orders concurrent changes per incident."""
        result = await self._session.execute(
            update(IncidentRow)
            .where(IncidentRow.team_id == current.team_id, IncidentRow.id == current.id)
            .values(version=IncidentRow.version + 1, updated_at=self._clock(), **values)
            .returning(*IncidentRow.__table__.c)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        if row is None:  # pragma: no cover - incidents are never deleted
            raise IncidentNotFoundError(current.id)
        return incident_from_row(row)

    async def _refuse_transition(
        self, current: Incident, target: Status, actor_id: str, refusal: InvalidTransitionError
    ) -> None:
        await self._log.refused(
            current,
            actor_id=actor_id,
            kind=EventKind.STATUS_CHANGED,
            target=target,
            detail=str(refusal),
            reason=type(refusal).__name__,
            now=self._clock(),
        )
