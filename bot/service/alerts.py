"""Alert intake (SPEC §11): a webhook notification about one alert group opens, updates or resolves
that group's incident, all in one transaction. Re-sent and duplicate notifications change nothing.

A notification is first checked against the group as last committed, read in one statement without a
lock: when that state already holds every alert of it at its status (and its truncatedAlerts), the
locked path would find nothing to do either (alerts are never forgotten, a resolved one never fires
again), so it is answered `unchanged` there, as if it had been applied at the moment of that read,
without waiting on the group's lock or writing. Anything else (a new alert, a newly resolved one, a
change of truncatedAlerts, a group with no current row) takes the locked path, which decides again.
An HA copy arriving while its twin is still being applied reads the state before the twin: it takes the
locked path, waits for the twin, and finds its changes there."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import structlog

from bot.service.alert_store import AlertUnitOfWork, AlertUnitOfWorkFactory, CurrentGroupLike
from domain import ACTIVE_STATUSES, EventKind, Incident, InvalidTransitionError, Severity, Status
from domain.alerts import (
    AlertNotification,
    AlertPlan,
    alert_description,
    alert_severity,
    alert_title,
    all_resolved_note,
    dedupe,
    firing_note,
    follows_note,
    plan_alerts,
    resolved_note,
    truncated_note,
)
from domain.incident_lifecycle import decide_transition

log = structlog.get_logger(__name__)

# A lost race for a new group's row (another replica opened it first) is retried: the retry reads the
# winner's group and finds every alert already known. Each retry means another writer committed.
MAX_ATTEMPTS = 4
MAX_MOVE_ATTEMPTS = 5


class Outcome(StrEnum):
    DECLARED = "declared"  # a new incident for the group
    UPDATED = "updated"  # notes, a thread message or a resolve on the group's incident
    UNCHANGED = "unchanged"  # a re-sent or duplicate notification
    IGNORED = "ignored"  # only resolved alerts, for a group with no incident


class AutoResolve(StrEnum):
    RESOLVED = "resolved"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AlertIntakeConfig:
    severity_map: Mapping[str, Severity]
    auto_resolve: bool = False


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    outcome: Outcome
    incident_id: int | None = None
    previous_incident_id: int | None = None
    notes: int = 0
    auto_resolve: AutoResolve | None = None


class NoAlertChannelError(RuntimeError):
    """A first notification would declare an incident, and INCIDENT_CHANNEL is not set."""


class _LostGroupRace(Exception):
    """Another transaction holds the group's current row: start again and read it."""


class AlertContentionError(RuntimeError):
    """The group kept being claimed under us; nothing was applied (the caller should retry)."""


def _truncated_changed(notification: AlertNotification, group: CurrentGroupLike) -> bool:
    """A notification that left alerts out says how many; 0 says nothing about earlier ones."""
    return notification.truncated_alerts not in (0, group.truncated_alerts)


class AlertIntakeService:
    def __init__(
        self,
        uow_factory: AlertUnitOfWorkFactory,
        *,
        config: AlertIntakeConfig,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._config = config
        self._on_commit = on_commit

    async def ingest(
        self, notification: AlertNotification, *, team_id: str, actor_id: str, channel_id: str | None
    ) -> AlertOutcome:
        known = await self._already_known(notification, team_id)
        if known is not None:
            self._log_applied(notification, known, locked=False)
            return known
        for _ in range(MAX_ATTEMPTS):
            try:
                async with self._uow_factory() as uow:
                    result = await self._apply(uow, notification, team_id, actor_id, channel_id)
                    await uow.commit()
            except _LostGroupRace:
                log.info("alerts.group.race_lost", source=notification.source.value)
                continue
            if result.outcome in (Outcome.DECLARED, Outcome.UPDATED):
                self._on_commit()
            self._log_applied(notification, result, locked=True)
            return result
        raise AlertContentionError("the alert group kept changing; nothing was applied")

    async def _already_known(self, notification: AlertNotification, team_id: str) -> AlertOutcome | None:
        """The answer when the last committed state already contains this notification (nothing to
        write: `unchanged`, or `ignored` for only resolved alerts and no group); None to take the lock."""
        async with self._uow_factory.reader() as reader:
            group = await reader.alerts.snapshot(team_id, notification.source, notification.group_key)
        if group is None:
            return None if notification.firing() else AlertOutcome(Outcome.IGNORED)
        plan = plan_alerts(group.known, notification.alerts)
        if plan.changes_anything or _truncated_changed(notification, group):
            return None
        return AlertOutcome(Outcome.UNCHANGED, incident_id=group.incident_id)

    @staticmethod
    def _log_applied(notification: AlertNotification, result: AlertOutcome, *, locked: bool) -> None:
        log.info(
            "alerts.notification.applied",
            source=notification.source.value,
            outcome=result.outcome.value,
            incident_id=result.incident_id,
            notes=result.notes,
            locked=locked,
        )

    async def _apply(
        self,
        uow: AlertUnitOfWork,
        notification: AlertNotification,
        team_id: str,
        actor_id: str,
        channel_id: str | None,
    ) -> AlertOutcome:
        now = uow.now()
        source, key = notification.source, notification.group_key
        group = await uow.alerts.lock_current(team_id, source, key, now=now)
        previous: Incident | None = None
        if group is not None:
            plan = plan_alerts(await uow.alerts.known_alerts(group.id), notification.alerts)
            if not plan.changes_anything and not _truncated_changed(notification, group):
                return AlertOutcome(Outcome.UNCHANGED, incident_id=group.incident_id)  # the twin's, applied
            incident = await uow.incidents.get(team_id, group.incident_id)
            if incident.status in ACTIVE_STATUSES or not plan.newly_firing:
                return await self._update(uow, notification, group, incident, plan, actor_id)
            await uow.alerts.retire(group.id)  # its incident is over, and the group fires again
            previous = incident
        if not notification.firing():
            return AlertOutcome(Outcome.IGNORED)
        if channel_id is None:
            raise NoAlertChannelError("INCIDENT_CHANNEL is not set")
        follows = follows_note(previous.display_id, previous.status.value) if previous else None
        incident = await uow.incidents.declare(
            team_id=team_id,
            title=alert_title(notification),
            reporter_id=actor_id,
            channel_id=channel_id,
            severity=alert_severity(notification, self._config.severity_map),
            description=alert_description(notification, previous=follows),
        )
        group_id = await uow.alerts.open(team_id, source, key, incident_id=incident.id, now=now)
        if group_id is None:
            raise _LostGroupRace
        await uow.alerts.add_alerts(team_id, group_id, dedupe(notification.alerts), now=now)
        notes = 0
        if notification.truncated_alerts > 0:
            await uow.alerts.set_truncated(group_id, notification.truncated_alerts)
            timeline_only = [(truncated_note(notification), False)]
            await uow.incidents.add_notes(incident, timeline_only, actor_id=actor_id)
            notes += 1
        return AlertOutcome(
            Outcome.DECLARED,
            incident_id=incident.id,
            previous_incident_id=previous.id if previous else None,
            notes=notes,
        )

    async def _update(
        self,
        uow: AlertUnitOfWork,
        notification: AlertNotification,
        group: CurrentGroupLike,
        incident: Incident,
        plan: AlertPlan,
        actor_id: str,
    ) -> AlertOutcome:
        now = uow.now()
        truncated_changed = _truncated_changed(notification, group)
        if not plan.changes_anything and not truncated_changed:
            return AlertOutcome(Outcome.UNCHANGED, incident_id=incident.id)
        await uow.alerts.add_alerts(incident.team_id, group.id, plan.new, now=now)
        await uow.alerts.mark_resolved(group.id, (a.key for a in plan.newly_resolved), now=now)
        # (text, announced): a newly firing alert gets a note and a thread message each; a resolved one
        # the timeline only (the thread hears when all have resolved)
        notes = [(firing_note(alert, notification), True) for alert in plan.newly_firing]
        notes += [(resolved_note(alert, notification), False) for alert in plan.newly_resolved]
        if truncated_changed:
            await uow.alerts.set_truncated(group.id, notification.truncated_alerts)
            notes.append((truncated_note(notification), False))
        all_resolved = all_resolved_note(plan.total) if plan.all_resolved else None
        if all_resolved is not None and not self._config.auto_resolve:
            notes.append((all_resolved, True))
        current = await uow.incidents.add_notes(incident, notes, actor_id=actor_id)
        auto: AutoResolve | None = None
        if all_resolved is not None and self._config.auto_resolve:
            current, auto = await self._resolve(uow, current, all_resolved, actor_id)
            if auto is not AutoResolve.RESOLVED:  # refused: the note still tells the thread
                current = await uow.incidents.add_note(
                    current, all_resolved, actor_id=actor_id, automatic=True
                )
            notes.append((all_resolved, True))
        return AlertOutcome(Outcome.UPDATED, incident_id=incident.id, notes=len(notes), auto_resolve=auto)

    async def _resolve(
        self, uow: AlertUnitOfWork, current: Incident, note: str, actor_id: str
    ) -> tuple[Incident, AutoResolve]:
        """Resolve through the lifecycle: the table decides; a refusal is kept in the timeline and
        audited, in this same transaction (the note then still tells the thread)."""
        for _ in range(MAX_MOVE_ATTEMPTS):
            try:
                decide_transition(current.status, Status.RESOLVED)
            except InvalidTransitionError as refusal:
                await uow.incidents.record_refusal(
                    current,
                    actor_id=actor_id,
                    kind=EventKind.STATUS_CHANGED,
                    detail=f"Auto-resolve: {refusal}",
                    reason=type(refusal).__name__,
                    target=Status.RESOLVED,
                )
                return current, AutoResolve.REFUSED
            moved = await uow.incidents.move_status(current, Status.RESOLVED, actor_id=actor_id, note=note)
            if moved is not None:
                return moved, AutoResolve.RESOLVED
            current = await uow.incidents.get(current.team_id, current.id)
        raise AlertContentionError("the incident kept changing; nothing was applied")
