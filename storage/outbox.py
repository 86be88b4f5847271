"""Outbox rows: notifications written in the same transaction as the change that caused them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import Severity, Status
from domain.changes import ChangeKind, IncidentChange
from storage.db_clock import db_now
from storage.models import OutboxRow


class NotificationKind(StrEnum):
    CARD_POSTED = "card.post"  # declare: post the card to the incident channel
    CARD_CHANGED = "card.change"  # accepted change: update the card, reply in its thread
    REMINDER = "reminder"  # an update reminder, posted where the incident's changes go (SPEC §13)
    CHANNEL_ARCHIVE = "channel.archive"  # archive the incident's own channel (SPEC §12), due after close


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Notification:
    """What the relay needs to deliver one outbox row."""

    id: int
    team_id: str
    incident_id: int
    kind: NotificationKind
    change: IncidentChange
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


def notification_from_row(row: OutboxRow) -> Notification:
    return Notification(
        id=row.id,
        team_id=row.team_id,
        incident_id=row.incident_id,
        kind=NotificationKind(row.kind),
        change=decode_change(row.payload),
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        last_error=row.last_error,
        sent_at=row.sent_at,
    )


# The payload's JSON keys; `action` is the change's kind (the name rows written before this type carry).
_OPTIONAL = ("from_status", "to_status", "from_severity", "to_severity", "commander_id", "note")
_OPTIONAL_INTS = ("quiet_seconds",)


def encode_change(change: IncidentChange) -> str:
    """The one place a change becomes an outbox payload."""
    payload: dict[str, Any] = {
        "action": change.kind.value,
        "actor_id": change.actor_id,
        "version": change.version,
    }
    for key in _OPTIONAL:
        value = getattr(change, key)
        if value is not None:
            payload[key] = str(value)
    for key in _OPTIONAL_INTS:
        number = getattr(change, key)
        if number is not None:
            payload[key] = int(number)
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def decode_change(raw: str) -> IncidentChange:
    """The one place an outbox payload becomes a change again (we wrote it; a bad one is a bug)."""
    payload = json.loads(raw)

    def text(key: str) -> str | None:
        value = payload.get(key)
        return str(value) if value is not None else None

    def status(key: str) -> Status | None:
        value = text(key)
        return Status(value) if value else None

    def severity(key: str) -> Severity | None:
        value = text(key)
        return Severity(value) if value else None

    return IncidentChange(
        kind=ChangeKind(payload["action"]),
        actor_id=str(payload["actor_id"]),
        version=int(payload["version"]),
        from_status=status("from_status"),
        to_status=status("to_status"),
        from_severity=severity("from_severity"),
        to_severity=severity("to_severity"),
        commander_id=text("commander_id"),
        note=text("note"),
        quiet_seconds=int(payload["quiet_seconds"]) if "quiet_seconds" in payload else None,
    )


def enqueue(
    session: AsyncSession,
    *,
    team_id: str,
    incident_id: int,
    kind: NotificationKind,
    change: IncidentChange,
    now: datetime,
) -> OutboxRow:
    """Add a pending notification to the caller's transaction; it commits with the change or not at all.

    It is due at once on the database's clock (leases and due times never use a replica's clock, which
    may be minutes off); `created_at` is the change's own time.
    """
    row = OutboxRow(
        team_id=team_id,
        incident_id=incident_id,
        kind=kind.value,
        payload=encode_change(change),
        state=OutboxState.PENDING.value,
        attempts=0,
        next_attempt_at=db_now(),
        created_at=now,
    )
    session.add(row)
    return row
