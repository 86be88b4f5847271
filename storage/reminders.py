"""Update reminders in the database (SPEC §13): the schedule that every accepted change re-plans, and
the scheduler's side that fires due reminders exactly once.

All due times are on the database's clock (`db_now`), shifted by the process's `ClockOffset` (zero in
production), so replicas whose own clocks differ still agree on what is due.

Exactly once per quiet period: firing is one transaction per reminder that advances the row with a
conditional `UPDATE … WHERE due_at <= now` (the guard on both databases; on PostgreSQL the row is first
taken with `FOR UPDATE SKIP LOCKED`, so replicas pick different reminders), writes the `reminder`
timeline event and writes the outbox row that the relay delivers. A replica that loses the race finds
the row already moved to the next period; a crash before the commit leaves the row due, for whoever
runs next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import ACTIVE_STATUSES, EventKind, Incident
from domain.changes import ChangeKind, IncidentChange
from domain.clock import Clock, utcnow
from domain.durations import describe_duration
from domain.reminders import DEFAULT_CADENCE, REMINDER_ACTOR, Cadence, next_reminder_in
from storage.db_clock import db_now
from storage.mapping import incident_from_row
from storage.models import IncidentEventRow, IncidentRow, ReminderRow
from storage.outbox import NotificationKind, enqueue

audit = structlog.get_logger("incident.audit")


def no_offset() -> timedelta:
    return timedelta(0)


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    """What planning needs: the cadence per severity (`REMINDERS`) and the clock offset."""

    cadence: Cadence = field(default_factory=lambda: DEFAULT_CADENCE)
    offset: Callable[[], timedelta] = no_offset

    def now(self, after: timedelta = timedelta(0)) -> db_now:
        return db_now(self.offset() + after)


class ReminderSchedule:
    """Plans, stops and snoozes an incident's next reminder inside the caller's transaction."""

    def __init__(self, session: AsyncSession, plan: ReminderPlan, *, clock: Clock = utcnow) -> None:
        self._session = session
        self._plan = plan
        self._clock = clock

    async def after_update(self, incident: Incident) -> None:
        """A human update (or the declare): the next reminder is one cadence away, or none at all."""
        after = next_reminder_in(incident, self._plan.cadence)
        if after is None:
            await self._session.execute(
                delete(ReminderRow)
                .where(ReminderRow.incident_id == incident.id, ReminderRow.team_id == incident.team_id)
                .execution_options(synchronize_session=False)
            )
            return
        values: dict[str, Any] = {
            "due_at": self._plan.now(after),
            "cadence_s": int(after.total_seconds()),
            "quiet_since": self._plan.now(),
            "sent": 0,
        }
        dialect = (await self._session.connection()).dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(ReminderRow).values(incident_id=incident.id, team_id=incident.team_id, **values)
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=[ReminderRow.incident_id], set_=values)
        )

    async def snooze(self, incident: Incident, *, actor_id: str) -> timedelta | None:
        """Move the next reminder one cadence from now (the quiet period goes on); None when the
        incident has no reminder to snooze. The snooze is a timeline event."""
        after = next_reminder_in(incident, self._plan.cadence)
        if after is None:
            return None
        result = await self._session.execute(
            update(ReminderRow)
            .where(ReminderRow.incident_id == incident.id, ReminderRow.team_id == incident.team_id)
            .values(due_at=self._plan.now(after), cadence_s=int(after.total_seconds()))
            .returning(ReminderRow.incident_id)
            .execution_options(synchronize_session=False)
        )
        if result.first() is None:
            return None
        detail = f"next reminder in {describe_duration(after)}"
        self._session.add(_event(incident, EventKind.REMINDER_SNOOZED, actor_id, detail, self._clock()))
        audit.info(
            "incident.reminder.snoozed", team_id=incident.team_id, incident_id=incident.id, actor_id=actor_id
        )
        return after


@dataclass(frozen=True, slots=True)
class FiredReminder:
    incident_id: int
    team_id: str
    quiet_for: timedelta


class ReminderStore:
    """The scheduler's side: fire due reminders (each in its own transaction) and say when the next is due."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        plan: ReminderPlan,
        *,
        clock: Clock = utcnow,
        read_engine: AsyncEngine | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._plan = plan
        self._clock = clock
        # Looking costs no write transaction (SQLite's writers queue at BEGIN IMMEDIATE).
        self._read_engine: AsyncEngine = read_engine or session_factory.kw["bind"]

    async def fire_due(self, *, limit: int = 50) -> list[FiredReminder]:
        """Fire up to `limit` due reminders, one transaction each; the ones this process fired."""
        fired: list[FiredReminder] = []
        for _ in range(limit):
            outcome = await self._fire_next()
            if outcome is None:
                break
            if isinstance(outcome, FiredReminder):
                fired.append(outcome)
        return fired

    async def _fire_next(self) -> FiredReminder | bool | None:
        """None: nothing due. False: the one found was not ours to send (another replica advanced it
        first, or its incident is no longer active). A `FiredReminder`: advanced, recorded, enqueued."""
        now = self._plan.now()
        async with self._session_factory() as session, session.begin():
            found = (
                await session.execute(
                    select(ReminderRow, IncidentRow, now)
                    .join(IncidentRow, IncidentRow.id == ReminderRow.incident_id)
                    .where(ReminderRow.due_at <= now)
                    .order_by(ReminderRow.due_at, ReminderRow.incident_id)
                    .limit(1)
                    .with_for_update(of=ReminderRow, skip_locked=True)
                )
            ).first()
            if found is None:
                return None
            reminder, incident_row, at = found
            incident = incident_from_row(incident_row)
            if incident.status not in ACTIVE_STATUSES:  # never planned so; kept from sending all the same
                await session.execute(delete(ReminderRow).where(ReminderRow.incident_id == incident.id))
                return False
            advanced = await session.execute(
                update(ReminderRow)
                .where(
                    ReminderRow.incident_id == incident.id,
                    ReminderRow.due_at <= now,
                    ReminderRow.cadence_s == reminder.cadence_s,
                )
                .values(
                    due_at=self._plan.now(timedelta(seconds=reminder.cadence_s)), sent=ReminderRow.sent + 1
                )
                .returning(ReminderRow.quiet_since)
                .execution_options(synchronize_session=False)
            )
            quiet_since = advanced.scalar_one_or_none()
            if quiet_since is None:  # another replica fired it (SQLite: no row locks) or it was re-planned
                return False
            quiet_for = max(timedelta(0), at - quiet_since)
            _fire(session, incident, quiet_for, self._clock())
        return FiredReminder(incident.id, incident.team_id, quiet_for)

    async def next_due_in(self, *, future_only: bool = True) -> float | None:
        """Seconds until the next reminder is due (on the database's clock, offset included; 0 or less:
        due now); None when none is planned. With `future_only` (what the scheduler sleeps on after a
        pass), one already due does not count: another replica is firing it (its row locked), and
        counting it would make the loop spin."""
        now = self._plan.now()
        query = select(func.min(ReminderRow.due_at), now)
        if future_only:
            query = query.where(ReminderRow.due_at > now)
        async with self._read_engine.connect() as connection:
            due, at = (await connection.execute(query)).one()
        return None if due is None else (due - at).total_seconds()


def _fire(session: AsyncSession, incident: Incident, quiet_for: timedelta, now: datetime) -> None:
    """The reminder's timeline event and its outbox row, in the transaction that advanced it."""
    detail = f"no update for {describe_duration(quiet_for)}"
    session.add(_event(incident, EventKind.REMINDER_SENT, REMINDER_ACTOR, detail, now))
    change = IncidentChange(
        kind=ChangeKind.REMINDER,
        actor_id=REMINDER_ACTOR,
        version=incident.version,
        quiet_seconds=int(quiet_for.total_seconds()),
    )
    enqueue(
        session,
        team_id=incident.team_id,
        incident_id=incident.id,
        kind=NotificationKind.REMINDER,
        change=change,
        now=now,
    )
    audit.info(
        "incident.reminder.sent",
        team_id=incident.team_id,
        incident_id=incident.id,
        quiet_s=int(quiet_for.total_seconds()),
    )


def _event(
    incident: Incident, kind: EventKind, actor_id: str, detail: str, now: datetime
) -> IncidentEventRow:
    return IncidentEventRow(
        team_id=incident.team_id,
        incident_id=incident.id,
        actor_id=actor_id,
        kind=kind.value,
        accepted=True,
        detail=detail,
        created_at=now,
    )
