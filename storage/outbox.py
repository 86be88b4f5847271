"""Outbox rows: notifications written in the same transaction as the change that caused them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxRow


class NotificationKind(StrEnum):
    CARD_POSTED = "card.post"  # declare: post the card to the incident channel
    CARD_CHANGED = "card.change"  # accepted change: update the card, reply in its thread


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
    payload: dict[str, Any]
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
        payload=json.loads(row.payload),
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        last_error=row.last_error,
        sent_at=row.sent_at,
    )


def enqueue(
    session: AsyncSession,
    *,
    team_id: str,
    incident_id: int,
    kind: NotificationKind,
    payload: dict[str, Any],
    now: datetime,
) -> OutboxRow:
    """Add a pending notification to the caller's transaction; it commits with the change or not at all."""
    row = OutboxRow(
        team_id=team_id,
        incident_id=incident_id,
        kind=kind.value,
        payload=json.dumps(payload, separators=(",", ":"), sort_keys=True),
        state=OutboxState.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row
