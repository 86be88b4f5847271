"""Rows to domain values: nothing outside storage/ ever holds an ORM object."""

from __future__ import annotations

from typing import Any

from domain import EventKind, Incident, Severity, Status, TimelineEvent
from storage.models import IncidentEventRow, IncidentRow

# Plain dict look-ups: calling an Enum class per value costs more than the rest of the mapping.
_SEVERITIES = {member.value: member for member in Severity}
_STATUSES = {member.value: member for member in Status}
_EVENT_KINDS = {member.value: member for member in EventKind}


def incident_from_row(row: IncidentRow | Any) -> Incident:
    """Accepts an ORM row or a Core result row with the same column names."""
    return Incident(
        id=row.id,
        team_id=row.team_id,
        title=row.title,
        description=row.description,
        severity=_SEVERITIES[row.severity],
        status=_STATUSES[row.status],
        reporter_id=row.reporter_id,
        channel_id=row.channel_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        commander_id=row.commander_id,
        acknowledged_at=row.acknowledged_at,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        card_channel_id=row.card_channel_id,
        card_ts=row.card_ts,
    )


def event_from_row(row: IncidentEventRow | Any) -> TimelineEvent:
    return TimelineEvent(
        id=row.id,
        incident_id=row.incident_id,
        team_id=row.team_id,
        actor_id=row.actor_id,
        kind=_EVENT_KINDS[row.kind],
        accepted=row.accepted,
        created_at=row.created_at,
        from_status=_STATUSES[row.from_status] if row.from_status else None,
        to_status=_STATUSES[row.to_status] if row.to_status else None,
        detail=row.detail,
    )
