"""Authorize a change to an incident; a refusal is committed to its timeline, then raised. Shared by every
service that changes incidents, so a refused snooze is audited exactly like a refused move."""

from __future__ import annotations

from collections.abc import Collection

from bot.service.unit_of_work import IncidentTransaction
from domain import EventKind, Incident, NotAuthorizedError, Status
from domain.authorization import ensure_may_change


async def refuse(
    uow: IncidentTransaction,
    current: Incident,
    actor_id: str,
    kind: EventKind,
    refusal: Exception,
    target: Status | None = None,
    *,
    reason: str | None = None,
) -> None:
    """Keep the refused attempt in the timeline (committed: the caller raises next)."""
    await uow.incidents.record_refusal(
        current,
        actor_id=actor_id,
        kind=kind,
        detail=str(refusal),
        reason=reason or type(refusal).__name__,
        target=target,
    )
    await uow.commit()


async def authorized_incident(
    uow: IncidentTransaction,
    team_id: str,
    incident_id: int,
    actor_id: str,
    kind: EventKind,
    *,
    responders: Collection[str] | None,
    target: Status | None = None,
) -> Incident:
    """The incident, once the actor may change it; a refusal is kept in the timeline, then raised."""
    current = await uow.incidents.get(team_id, incident_id)
    try:
        ensure_may_change(actor_id, responders)
    except NotAuthorizedError as refusal:
        await refuse(uow, current, actor_id, kind, refusal, target, reason="not_a_responder")
        raise
    return current
