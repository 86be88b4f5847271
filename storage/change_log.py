"""What every attempt leaves behind, in the caller's transaction: a timeline event, for accepted
changes an outbox row, and an audit line. Refused attempts are kept aside so that the unit of work
can commit them even when everything else rolls back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from domain import EventKind, Incident, Status
from storage.models import IncidentEventRow
from storage.outbox import NotificationKind, enqueue

audit = structlog.get_logger("incident.audit")

# How an outbox row names the kind of change it announces.
_ACTIONS: dict[EventKind, str] = {
    EventKind.STATUS_CHANGED: "status",
    EventKind.SEVERITY_CHANGED: "severity",
    EventKind.COMMANDER_ASSIGNED: "commander",
    EventKind.NOTE_ADDED: "note",
}


class ChangeLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.refusals: list[dict[str, Any]] = []

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
        self._notify(incident, NotificationKind.CARD_POSTED, actor_id=actor_id, action="declared", now=now)
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
        *,
        actor_id: str,
        kind: EventKind,
        audit_event: str,
        detail: str | None,
        **details: Any,
    ) -> None:
        """An accepted change: its timeline event, its outbox row and its audit line."""
        from_status, to_status = details.get("from_status"), details.get("to_status")
        self._add_event(
            changed,
            actor_id=actor_id,
            kind=kind,
            from_status=Status(from_status) if from_status else None,
            to_status=Status(to_status) if to_status else None,
            detail=detail,
            now=changed.updated_at,
        )
        self._notify(
            changed,
            NotificationKind.CARD_CHANGED,
            actor_id=actor_id,
            action=_ACTIONS[kind],
            now=changed.updated_at,
            **details,
        )
        audited = {key: value for key, value in details.items() if key != "note"}
        audit.info(audit_event, team_id=changed.team_id, incident_id=changed.id, actor_id=actor_id, **audited)

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
        values: dict[str, Any] = {
            "team_id": incident.team_id,
            "incident_id": incident.id,
            "actor_id": actor_id,
            "kind": kind.value,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value if to_status else None,
            "accepted": accepted,
            "detail": detail,
            "created_at": now,
        }
        if not accepted:
            self.refusals.append(values)
        self._session.add(IncidentEventRow(**values))

    def _notify(
        self,
        incident: Incident,
        kind: NotificationKind,
        *,
        actor_id: str,
        action: str,
        now: datetime,
        **details: Any,
    ) -> None:
        payload = {"actor_id": actor_id, "action": action, "version": incident.version, **details}
        enqueue(
            self._session,
            team_id=incident.team_id,
            incident_id=incident.id,
            kind=kind,
            payload=payload,
            now=now,
        )
