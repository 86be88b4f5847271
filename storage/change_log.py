"""What every attempt leaves behind, in the caller's transaction: a timeline event, for accepted
changes an outbox row, and an audit line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain import EventKind, Incident, Status
from domain.changes import ChangeKind, IncidentChange
from storage.db_clock import db_now
from storage.models import IncidentEventRow, OutboxRow
from storage.outbox import NotificationKind, OutboxState, encode_change, enqueue

audit = structlog.get_logger("incident.audit")
_EVENTS, _OUTBOX = cast(Table, IncidentEventRow.__table__), cast(Table, OutboxRow.__table__)


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

    async def notes(
        self, incident: Incident, notes: Sequence[tuple[str, int | None]], *, actor_id: str, now: datetime
    ) -> None:
        """Notes in timeline order, written by one insert of their events and one of their outbox rows.

        A note with a version is an accepted change (an outbox row, in the same order, and the audit line
        `accepted` writes); one without is kept in the timeline only: no notification (e.g. a resolved
        alert). Rows added to the session before are flushed first, so they stay first in both tables."""
        await self._session.flush()
        await self._session.execute(
            insert(_EVENTS),
            [
                {
                    "team_id": incident.team_id,
                    "incident_id": incident.id,
                    "actor_id": actor_id,
                    "kind": EventKind.NOTE_ADDED.value,
                    "from_status": None,
                    "to_status": None,
                    "accepted": True,
                    "detail": text,
                    "created_at": now,
                }
                for text, _ in notes
            ],
        )
        changes = [
            IncidentChange(kind=ChangeKind.NOTE, actor_id=actor_id, version=version, note=text)
            for text, version in notes
            if version is not None
        ]
        if changes:
            await self._session.execute(
                insert(_OUTBOX).values(next_attempt_at=db_now()),
                [
                    {
                        "team_id": incident.team_id,
                        "incident_id": incident.id,
                        "kind": NotificationKind.CARD_CHANGED.value,
                        "payload": encode_change(change),
                        "state": OutboxState.PENDING.value,
                        "attempts": 0,
                        "created_at": now,
                    }
                    for change in changes
                ],
            )
        fields = {"team_id": incident.team_id, "incident_id": incident.id, "actor_id": actor_id}
        for _, version in notes:
            audit.info("incident.note.added" if version is not None else "incident.note.recorded", **fields)

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
