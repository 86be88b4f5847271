"""Rows to domain values: nothing outside storage/ ever holds an ORM object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain import EventKind, Incident, Severity, Status, TimelineEvent
from storage.models import IncidentEventRow, IncidentRow

# Plain dict look-ups: calling an Enum class per value costs more than the rest of the mapping.
SEVERITIES = {member.value: member for member in Severity}
_STATUSES = {member.value: member for member in Status}
_EVENT_KINDS = {member.value: member for member in EventKind}


# Core rows are unpacked by position: attribute access on a Row costs about 20 µs per incident, five
# times the rest of the mapping. These names pin the order the unpacking below relies on.
INCIDENT_COLUMN_ORDER = (
    "id", "team_id", "title", "description", "severity", "status", "commander_id", "reporter_id",
    "channel_id", "card_channel_id", "card_ts", "created_at", "updated_at", "acknowledged_at",
    "mitigated_at", "resolved_at", "closed_at", "version",
)  # fmt: skip
EVENT_COLUMN_ORDER = (
    "id", "team_id", "incident_id", "actor_id", "kind", "from_status", "to_status", "accepted", "detail",
    "created_at",
)  # fmt: skip
if tuple(c.name for c in IncidentRow.__table__.c) != INCIDENT_COLUMN_ORDER:  # pragma: no cover
    raise ImportError("storage.mapping: the incidents columns changed order; update INCIDENT_COLUMN_ORDER")
if tuple(c.name for c in IncidentEventRow.__table__.c) != EVENT_COLUMN_ORDER:  # pragma: no cover
    raise ImportError("storage.mapping: the incident_events columns changed order; update EVENT_COLUMN_ORDER")


def incident_from_row(row: IncidentRow | Sequence[Any]) -> Incident:
    """An ORM row, or a Core row of every incidents column in table order (`*IncidentRow.__table__.c`)."""
    if isinstance(row, IncidentRow):
        row = tuple(getattr(row, name) for name in INCIDENT_COLUMN_ORDER)
    (id_, team, title, description, severity, status, commander, reporter, channel, card_channel, card_ts,
     created, updated, acked, mitigated, resolved, closed, version) = row  # fmt: skip
    return Incident(
        id_, team, title, description, SEVERITIES[severity], _STATUSES[status], reporter, channel,
        created, updated, version, commander, acked, mitigated, resolved, closed, card_channel, card_ts,
    )  # fmt: skip


def event_from_row(row: IncidentEventRow | Sequence[Any]) -> TimelineEvent:
    """An ORM row, or a Core row of every incident_events column in table order."""
    if isinstance(row, IncidentEventRow):
        row = tuple(getattr(row, name) for name in EVENT_COLUMN_ORDER)
    id_, team, incident, actor, kind, from_status, to_status, accepted, detail, created = row
    return TimelineEvent(
        id_, incident, team, actor, _EVENT_KINDS[kind], accepted, created,
        _STATUSES[from_status] if from_status else None, _STATUSES[to_status] if to_status else None, detail,
    )  # fmt: skip
