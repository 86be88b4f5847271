"""Incident channels (SPEC §12): what the relay records about each incident's own channel.

Every step is its own short transaction, written so that doing it twice is harmless: the relay records
the name it is about to try (with a marker token) before calling `conversations.create`, records the
channel the moment Slack answers, and the rest (topic, invite, announcement) after each call. A relay
that died anywhere in between, or a second replica, finds the record and carries on from it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.changes import ChangeKind, IncidentChange
from domain.clock import Clock, utcnow
from storage.db_clock import db_now
from storage.models import IncidentChannelRow, OutboxRow
from storage.outbox import NotificationKind, OutboxState, encode_change

REASON_MAX = 500


class ChannelState(StrEnum):
    NAMING = "naming"  # a name is being tried; the channel may exist in Slack already
    OPEN = "open"  # the channel exists: the card and change messages go there
    FALLBACK = "fallback"  # Slack refused for good: the incident works in shared mode
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class IncidentChannel:
    incident_id: int
    team_id: str
    state: ChannelState
    name: str
    attempt: int
    token: str
    channel_id: str | None
    reason: str | None
    topic: str | None
    commander_invited: str | None
    announce_channel_id: str | None
    announce_ts: str | None
    archive_due_at: datetime | None

    @property
    def is_open(self) -> bool:
        """The channel exists and the incident lives there (archived ones keep their card there too)."""
        return self.channel_id is not None and self.state in (ChannelState.OPEN, ChannelState.ARCHIVED)


def _record(row: IncidentChannelRow) -> IncidentChannel:
    return IncidentChannel(
        incident_id=row.incident_id,
        team_id=row.team_id,
        state=ChannelState(row.state),
        name=row.name,
        attempt=row.attempt,
        token=row.token,
        channel_id=row.channel_id,
        reason=row.reason,
        topic=row.topic,
        commander_invited=row.commander_invited,
        announce_channel_id=row.announce_channel_id,
        announce_ts=row.announce_ts,
        archive_due_at=row.archive_due_at,
    )


class IncidentChannelStore:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, clock: Clock = utcnow) -> None:
        self._session_factory = session_factory
        self._clock = clock

    async def get(self, incident_id: int) -> IncidentChannel | None:
        async with self._session_factory() as session:
            row = await session.get(IncidentChannelRow, incident_id)
            return _record(row) if row is not None else None

    async def incident_for_channel(self, team_id: str, channel_id: str) -> int | None:
        """The incident whose own channel `channel_id` is, in that team (commands may leave the id out)."""
        async with self._session_factory() as session:
            return await session.scalar(
                select(IncidentChannelRow.incident_id).where(
                    IncidentChannelRow.team_id == team_id,
                    IncidentChannelRow.channel_id == channel_id,
                    IncidentChannelRow.state.in_([ChannelState.OPEN.value, ChannelState.ARCHIVED.value]),
                )
            )

    async def begin(self, team_id: str, incident_id: int, name: str) -> IncidentChannel:
        """The record to work from: created with `name` and a fresh token, or the one already there."""
        now = self._clock()
        async with self._session_factory() as session, session.begin():
            dialect = (await session.connection()).dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            await session.execute(
                insert(IncidentChannelRow)
                .values(
                    incident_id=incident_id,
                    team_id=team_id,
                    state=ChannelState.NAMING.value,
                    name=name,
                    attempt=1,
                    token=secrets.token_hex(12),
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["incident_id"])
            )
            row = await session.get(IncidentChannelRow, incident_id)
            assert row is not None
            return _record(row)

    async def next_name(self, incident_id: int, attempt: int, name: str) -> None:
        """The name before this one was taken by someone else: try `name` (attempt `attempt`) next."""
        await self._update(
            incident_id,
            {"attempt": attempt, "name": name},
            IncidentChannelRow.state == ChannelState.NAMING.value,
        )

    async def created(self, incident_id: int, channel_id: str) -> IncidentChannel:
        """Slack made (or we recognised) the channel: the incident lives there from now on."""
        await self._update(
            incident_id,
            {"channel_id": channel_id, "state": ChannelState.OPEN.value},
            IncidentChannelRow.state == ChannelState.NAMING.value,
        )
        record = await self.get(incident_id)
        assert record is not None
        return record

    async def fell_back(self, record: IncidentChannel, reason: str, *, actor_id: str, version: int) -> None:
        """Slack refused the channel for good: the incident stays shared, and (same transaction, once) a
        change is queued that says so in its thread, delivered after its card like any change."""
        async with self._session_factory() as session, session.begin():
            result = await session.execute(
                update(IncidentChannelRow)
                .where(
                    IncidentChannelRow.incident_id == record.incident_id,
                    IncidentChannelRow.state == ChannelState.NAMING.value,
                )
                .values(
                    state=ChannelState.FALLBACK.value, reason=reason[:REASON_MAX], updated_at=self._clock()
                )
            )
            if result.rowcount:  # type: ignore[attr-defined]
                change = IncidentChange(
                    kind=ChangeKind.CHANNEL_FALLBACK, actor_id=actor_id, version=version, note=reason
                )
                self._enqueue(session, record, NotificationKind.CARD_CHANGED, change, db_now())

    async def announced(self, incident_id: int, channel_id: str, ts: str) -> None:
        await self._update(incident_id, {"announce_channel_id": channel_id, "announce_ts": ts})

    async def topic_set(self, incident_id: int, topic: str) -> None:
        await self._update(incident_id, {"topic": topic})

    async def commander_invited(self, incident_id: int, user_id: str) -> None:
        await self._update(incident_id, {"commander_invited": user_id})

    async def archived(self, incident_id: int) -> None:
        await self._update(incident_id, {"state": ChannelState.ARCHIVED.value})

    async def schedule_archive(
        self, record: IncidentChannel, after: timedelta, change: IncidentChange
    ) -> bool:
        """Once per incident: note the archive's due time (on the database's clock) and, in the same
        transaction, the outbox row that archives the channel then. False when already scheduled."""
        async with self._session_factory() as session, session.begin():
            result = await session.execute(
                update(IncidentChannelRow)
                .where(
                    IncidentChannelRow.incident_id == record.incident_id,
                    IncidentChannelRow.state == ChannelState.OPEN.value,
                    IncidentChannelRow.archive_due_at.is_(None),
                )
                .values(archive_due_at=db_now(after), updated_at=self._clock())
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            self._enqueue(session, record, NotificationKind.CHANNEL_ARCHIVE, change, db_now(after))
            return True

    def _enqueue(
        self,
        session: AsyncSession,
        record: IncidentChannel,
        kind: NotificationKind,
        change: IncidentChange,
        due: db_now,
    ) -> None:
        session.add(
            OutboxRow(
                team_id=record.team_id,
                incident_id=record.incident_id,
                kind=kind.value,
                payload=encode_change(change),
                state=OutboxState.PENDING.value,
                attempts=0,
                next_attempt_at=due,
                created_at=self._clock(),
            )
        )

    async def _update(self, incident_id: int, values: dict[str, Any], *where: Any) -> None:
        async with self._session_factory() as session, session.begin():
            await session.execute(
                update(IncidentChannelRow)
                .where(IncidentChannelRow.incident_id == incident_id, *where)
                .values(**values, updated_at=self._clock())
            )
