"""`IncidentRepository`: the one door to incident data (ADR-001). Every method is scoped by team.

It reads and writes; it does not decide. Whether a move is allowed is the domain's call, made by the
application layer (`bot.service`) before it asks for the guarded write here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, literal, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain import (
    DEFAULT_SEVERITY,
    EventKind,
    Incident,
    IncidentNotFoundError,
    Severity,
    Status,
)
from domain.changes import ChangeKind, IncidentChange
from domain.clock import Clock, utcnow
from storage.change_log import ChangeLog
from storage.duration_histogram import move_severity, record_declared, record_stamp
from storage.incident_reads import IncidentReads
from storage.mapping import incident_from_row
from storage.models import IncidentRow, UTCDateTime
from storage.reminders import ReminderPlan, ReminderSchedule

_STAMPS: dict[Status, Any] = {
    Status.ACKNOWLEDGED: IncidentRow.acknowledged_at,
    Status.MITIGATED: IncidentRow.mitigated_at,
    Status.RESOLVED: IncidentRow.resolved_at,
    Status.CLOSED: IncidentRow.closed_at,
}
# The stamps the duration histogram counts (`storage.duration_histogram`), by the status that sets them.
_MEASURED = {Status.ACKNOWLEDGED: "ack", Status.RESOLVED: "res"}


class IncidentRepository(IncidentReads):
    """Reads return domain values; writes add the timeline event and outbox row to the same session.

    Transaction boundaries belong to the unit of work, not to this class. Every human update (and the
    declare) re-plans the incident's next update reminder here, in the same transaction (SPEC §13), and
    the declare, the first acknowledgement and resolution, and a severity change add their delta rows
    to the duration histogram `/incident stats all` reads (`storage.duration_histogram`).
    """

    def __init__(
        self, session: AsyncSession, *, clock: Clock = utcnow, reminders: ReminderPlan | None = None
    ) -> None:
        self._session = session
        self._clock = clock
        self._log = ChangeLog(session)
        self.reminders = ReminderSchedule(session, reminders or ReminderPlan(), clock=clock)

    async def _connection(self) -> AsyncConnection:
        return await self._session.connection()

    # ---- writes (values already validated by the caller) ----------------------------------------

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
            title=title,
            description=description,
            severity=severity.value,
            status=Status.OPEN.value,
            reporter_id=reporter_id,
            channel_id=channel_id,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self._session.add(row)
        await self._session.flush()
        await record_declared(self._session, team_id, severity)
        incident = incident_from_row(row)
        self._log.declared(incident, now=now)
        await self.reminders.after_update(incident)
        return incident

    async def move_status(
        self, current: Incident, target: Status, *, actor_id: str, note: str | None = None
    ) -> Incident | None:
        """`UPDATE … WHERE status = :from` (plus a version bump and the first-time stamp).

        None when the incident is no longer in `current.status`: another writer moved it first.
        """
        now = self._clock()
        values: dict[str, Any] = {
            "status": target.value,
            "version": IncidentRow.version + 1,
            "updated_at": now,
        }
        stamp = _STAMPS.get(target)
        guard = IncidentRow.status == current.status.value
        metric = _MEASURED.get(target)
        moved: Incident | None
        if metric is not None:
            stamped = await self._stamp_first_time(current, guard, stamp, literal(now, UTCDateTime()), values)
            moved, first = stamped if stamped is not None else (None, False)
            if first:
                await record_stamp(self._session, current.team_id, current.id, metric)
        else:
            if stamp is not None:
                values[stamp.key] = func.coalesce(stamp, literal(now, UTCDateTime()))
            moved = await self._update(current, guard, **values)
        if moved is None:
            return None
        change = IncidentChange(
            kind=ChangeKind.STATUS,
            actor_id=actor_id,
            version=moved.version,
            from_status=current.status,
            to_status=target,
            note=note,
        )
        self._log.accepted(
            moved,
            change,
            kind=EventKind.STATUS_CHANGED,
            audit_event="incident.transition.accepted",
            detail=note,
            from_status=current.status.value,
            to_status=target.value,
        )
        await self.reminders.after_update(moved)
        return moved

    async def lock_version(self, current: Incident, version: int) -> Incident | None:
        """`UPDATE … SET version = version WHERE version = :v`: takes the row lock for this transaction's
        next changes and checks `If-Match` in SQL. None when the incident is at another version."""
        return await self._update(current, IncidentRow.version == version, version=IncidentRow.version)

    async def change_severity(self, current: Incident, severity: Severity, *, actor_id: str) -> Incident:
        """The histogram's entries move with the incident, from the severity it really had: `current`
        may be stale, so the update is guarded by it, and on a miss the row is locked and read again."""
        old = current.severity
        bumped = await self._update(
            current,
            IncidentRow.severity == old.value,
            version=IncidentRow.version + 1,
            updated_at=self._clock(),
            severity=severity.value,
        )
        if bumped is None:
            locked = await self._update(current, None, version=IncidentRow.version)
            if locked is None:  # another team's incident: callers read it by team first, so never here
                raise IncidentNotFoundError(current.id)
            old = locked.severity
            bumped = await self._bump(locked, severity=severity.value)
        changed = bumped
        await move_severity(self._session, current.team_id, current.id, old, severity)
        change = IncidentChange(
            kind=ChangeKind.SEVERITY,
            actor_id=actor_id,
            version=changed.version,
            from_severity=old,
            to_severity=severity,
        )
        self._log.accepted(
            changed,
            change,
            kind=EventKind.SEVERITY_CHANGED,
            audit_event="incident.severity.changed",
            detail=f"{old.value} → {severity.value}",
            from_severity=old.value,
            to_severity=severity.value,
        )
        await self.reminders.after_update(changed)
        return changed

    async def assign_commander(self, current: Incident, commander_id: str, *, actor_id: str) -> Incident:
        changed = await self._bump(current, commander_id=commander_id)
        change = IncidentChange(
            kind=ChangeKind.COMMANDER, actor_id=actor_id, version=changed.version, commander_id=commander_id
        )
        self._log.accepted(
            changed,
            change,
            kind=EventKind.COMMANDER_ASSIGNED,
            audit_event="incident.commander.assigned",
            detail=commander_id,
            commander_id=commander_id,
        )
        await self.reminders.after_update(changed)
        return changed

    async def add_note(
        self, current: Incident, note: str, *, actor_id: str, automatic: bool = False
    ) -> Incident:
        """A note in the timeline and the thread; an `automatic` one (alert intake) is not a human
        update, so it leaves the next reminder where it was."""
        changed = await self._bump(current)
        change = IncidentChange(kind=ChangeKind.NOTE, actor_id=actor_id, version=changed.version, note=note)
        self._log.accepted(
            changed, change, kind=EventKind.NOTE_ADDED, audit_event="incident.note.added", detail=note
        )
        if not automatic:
            await self.reminders.after_update(changed)
        return changed

    async def add_notes(
        self, current: Incident, notes: Sequence[tuple[str, bool]], *, actor_id: str
    ) -> Incident:
        """Several notes at once, in timeline order. `(text, True)` is what `add_note` does: an accepted
        change, with its own version and outbox row (a thread message); `(text, False)` is a timeline
        note that changes nothing else and sends nothing to Slack. One version bump covers every
        accepted note (each keeps its own number), one insert writes the events, one the outbox rows."""
        if not notes:
            return current
        now, announced = self._clock(), sum(1 for _, accepted in notes if accepted)
        changed = current
        if announced:
            bumped = await self._update(
                current, None, version=IncidentRow.version + announced, updated_at=now
            )
            if bumped is None:  # another team's incident: callers read it by team first, so never here
                raise IncidentNotFoundError(current.id)
            changed = bumped
        version = changed.version - announced
        numbered: list[tuple[str, int | None]] = []
        for text, accepted in notes:
            version += accepted
            numbered.append((text, version if accepted else None))
        await self._log.notes(changed, numbered, actor_id=actor_id, now=now)
        return changed

    async def record_refusal(
        self,
        incident: Incident,
        *,
        actor_id: str,
        kind: EventKind,
        detail: str,
        reason: str,
        target: Status | None = None,
    ) -> None:
        """Keep a refused attempt in the timeline (and the audit log); nothing else changes."""
        await self._log.refused(
            incident,
            actor_id=actor_id,
            kind=kind,
            target=target,
            detail=detail,
            reason=reason,
            now=self._clock(),
        )

    # ---- internals -----------------------------------------------------------------------------

    async def _stamp_first_time(
        self, current: Incident, guard: Any, stamp: Any, now: Any, values: dict[str, Any]
    ) -> tuple[Incident, bool] | None:
        """The move, stamping `stamp` only if it is still empty; True when this statement stamped it.

        Two guarded updates, `stamp IS NULL` (set it) and `stamp IS NOT NULL` (keep it), the likelier
        first: whichever matches says for certain whether this was the first stamp (stamps are never
        cleared), which a compare of the returned stamp with `now` could not (a fixed clock, a stale
        `current`). None when neither matches: the incident left `current.status`."""
        attempts = [
            (True, stamp.is_(None), {**values, stamp.key: now}),
            (False, stamp.is_not(None), values),
        ]
        if getattr(current, stamp.key) is not None:
            attempts.reverse()
        for first, condition, written in attempts:
            moved = await self._update(current, and_(guard, condition), **written)
            if moved is not None:
                return moved, first
        return None

    async def _bump(self, current: Incident, **values: Any) -> Incident:
        """Apply a non-status change; the row lock it takes orders concurrent changes per incident."""
        changed = await self._update(
            current, None, version=IncidentRow.version + 1, updated_at=self._clock(), **values
        )
        if changed is None:  # another team's incident: callers read it by team first, so never here
            raise IncidentNotFoundError(current.id)
        return changed

    async def _update(self, current: Incident, guard: Any, **values: Any) -> Incident | None:
        conditions = [IncidentRow.team_id == current.team_id, IncidentRow.id == current.id]
        if guard is not None:
            conditions.append(guard)
        result = await self._session.execute(
            update(IncidentRow)
            .where(*conditions)
            .values(**values)
            .returning(*IncidentRow.__table__.c)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return incident_from_row(row) if row is not None else None
