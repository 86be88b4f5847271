"""Domain values as the API's JSON (the shapes `bot.api.openapi` publishes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import Incident, TimelineEvent
from domain.incident_lifecycle import ordered_targets


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "display_id": incident.display_id,
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "allowed_statuses": [s.value for s in ordered_targets(incident.status)],
        "commander_id": incident.commander_id,
        "reporter_id": incident.reporter_id,
        "channel_id": incident.channel_id,
        "created_at": _time(incident.created_at),
        "updated_at": _time(incident.updated_at),
        "acknowledged_at": _time(incident.acknowledged_at),
        "mitigated_at": _time(incident.mitigated_at),
        "resolved_at": _time(incident.resolved_at),
        "closed_at": _time(incident.closed_at),
        "version": incident.version,
    }


def event_json(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind.value,
        "actor_id": event.actor_id,
        "accepted": event.accepted,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value if event.to_status else None,
        "detail": event.detail,
        "created_at": _time(event.created_at),
    }


def etag(incident: Incident) -> str:
    return f'"{incident.version}"'
