"""What every attempt leaves behind, in the caller's transaction: a timeline event, for accepted
changes an outbox row, and an audit line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from domain import EventKind, Incident, Status
from domain.changes import ChangeKind, IncidentChange
from storage.models import IncidentEventRow
from storage.outbox import NotificationKind, enqueue

audit = structlog.get_logger("incident.audit")


class ChangeLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def declared(self, incident: Incident, *, now: datetime) -> None:
        actor_id = incident.reporter_id
        self._add_event(
            incident,
            actor_id=actor_id,
            kind=EventKind.DECLARED,
            to_status=Status.OPEN,
            detail=incident.title,
            now=now,
        )
        change = IncidentChange(kind=ChangeKind.DECLARED, actor_id=actor_id, version=incident.version)
        enqueue(
            self._session,
            team_id=incident.team_id,
            incident_id=incident.id,
            kind=NotificationKind.CARD_POSTED,
            change=change,
            now=now,
        )
        audit.info(
            "incident.declared",
            team_id=incident.team_id,
            incident_id=incident.id,
            actor_id=actor_id,
            severity=incident.severity.value,
        )

    def accepted(
        self,
        changed: Incident,
        change: IncidentChange,
        *,
        kind: EventKind,
        audit_event: str,
        detail: str | None,
        **audited: Any,
    ) -> None:
        """An accepted change: its timeline event, its outbox row and its audit line."""
        self._add_event(
            changed,
            actor_id=change.actor_id,
            kind=kind,
            from_status=change.from_status,
            to_status=change.to_status,
            detail=detail,
            now=changed.updated_at,
        )
        enqueue(
            self._session,
            team_id=changed.team_id,
            incident_id=changed.id,
            kind=NotificationKind.CARD_CHANGED,
            change=change,
            now=changed.updated_at,
        )
        audit.info(
            audit_event, team_id=changed.team_id, incident_id=changed.id, actor_id=change.actor_id, **audited
        )

    def noted(self, incident: Incident, *, actor_id: str, note: str, now: datetime) -> None:
        """A note kept in the timeline only: no version bump, no notification (e.g. a resolved alert)."""
        self._add_event(incident, actor_id=actor_id, kind=EventKind.NOTE_ADDED, detail=note, now=now)
        audit.info(
            "incident.note.recorded", team_id=incident.team_id, incident_id=incident.id, actor_id=actor_id
        )

    async def refused(
        self,
        incident: Incident,
        *,
        actor_id: str,
        kind: EventKind,
        target: Status | None,
        detail: str,
        reason: str,
        now: datetime,
    ) -> None:
        """A refused attempt: a timeline event marked refused and a warning audit line; no notification."""
        self._add_event(
            incident,
            actor_id=actor_id,
            kind=kind,
            from_status=incident.status,
            to_status=target,
            detail=detail,
            accepted=False,
            now=now,
        )
        await self._session.flush()
        fields: dict[str, Any] = {
            "team_id": incident.team_id,
            "incident_id": incident.id,
            "actor_id": actor_id,
            "from_status": incident.status.value,
            "to_status": target.value if target else None,
            "reason": reason,
        }
        if kind is EventKind.STATUS_CHANGED:
            audit.warning("incident.transition.refused", **fields)
        else:
            audit.warning("incident.change.refused", kind=kind.value, **fields)

    def _add_event(
        self,
        incident: Incident,
        *,
        actor_id: str,
        kind: EventKind,
        now: datetime,
        from_status: Status | None = None,
        to_status: Status | None = None,
        detail: str | None = None,
        accepted: bool = True,
    ) -> None:
        self._session.add(
            IncidentEventRow(
                team_id=incident.team_id,
                incident_id=incident.id,
                actor_id=actor_id,
                kind=kind.value,
                from_status=from_status.value if from_status else None,
                to_status=to_status.value if to_status else None,
                accepted=accepted,
                detail=detail,
                created_at=now,
            )
        )
