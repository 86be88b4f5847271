"""The incident as responders know it: values that outer layers build, compare and render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


ACTIVE_STATUSES: frozenset[Status] = frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.MITIGATED})


class Severity(StrEnum):
    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


DEFAULT_SEVERITY = Severity.SEV3


class EventKind(StrEnum):
    """What a timeline entry records."""

    DECLARED = "declared"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    COMMANDER_ASSIGNED = "commander_assigned"
    NOTE_ADDED = "note_added"
    REMINDER_SENT = "reminder"
    REMINDER_SNOOZED = "reminder_snoozed"


class ListFilter(StrEnum):
    """Which incidents a list shows (SPEC §4 `/incident list`)."""

    ACTIVE = "active"
    RESOLVED = "resolved"
    CLOSED = "closed"
    ALL = "all"

    def statuses(self) -> frozenset[Status] | None:
        """The statuses this filter admits; None means every status."""
        if self is ListFilter.ACTIVE:
            return ACTIVE_STATUSES
        if self is ListFilter.RESOLVED:
            return frozenset({Status.RESOLVED})
        if self is ListFilter.CLOSED:
            return frozenset({Status.CLOSED})
        return None


def format_incident_id(incident_id: int) -> str:
    return f"INC-{incident_id}"


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    team_id: str
    title: str
    description: str
    severity: Severity
    status: Status
    reporter_id: str
    channel_id: str
    created_at: datetime
    updated_at: datetime
    version: int
    commander_id: str | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    card_channel_id: str | None = None
    card_ts: str | None = None

    @property
    def display_id(self) -> str:
        return format_incident_id(self.id)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One entry of an incident's timeline and audit trail, refused attempts included."""

    id: int
    incident_id: int
    team_id: str
    actor_id: str
    kind: EventKind
    accepted: bool
    created_at: datetime
    from_status: Status | None = None
    to_status: Status | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ListPosition:
    """Where a newest-first list page ends: the compound keyset `(created_at, id)`."""

    created_at: datetime
    incident_id: int


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Incident, ...]
    next_position: ListPosition | None

    @property
    def has_more(self) -> bool:
        return self.next_position is not None
