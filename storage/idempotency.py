"""Idempotency-Key records for declares: `(team_id, key)` is the primary key, so of two identical
retries racing on two replicas exactly one claims the key; the other reads what the first stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IdempotencyKeyRow


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    body_hash: str
    incident_id: int | None


class IdempotencyKeys:
    """Used inside a unit of work: the claim, the incident and its outbox row commit together."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(
        self, team_id: str, key: str, body_hash: str, *, now: datetime, not_before: datetime
    ) -> IdempotencyRecord | None:
        """None when this transaction now holds the key; else the record that holds it.

        A record older than `not_before` is forgotten first. On PostgreSQL a concurrent claim waits
        for the holder's transaction to end, then sees its committed record.
        """
        await self._session.execute(
            delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.team_id == team_id,
                IdempotencyKeyRow.key == key,
                IdempotencyKeyRow.created_at < not_before,
            )
        )
        values = {"team_id": team_id, "key": key, "body_hash": body_hash, "created_at": now}
        dialect = (await self._session.connection()).dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        result = await self._session.execute(
            insert(IdempotencyKeyRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["team_id", "key"])
            .returning(IdempotencyKeyRow.key)
        )
        if result.first() is not None:
            return None
        row = (
            await self._session.execute(
                select(IdempotencyKeyRow.body_hash, IdempotencyKeyRow.incident_id).where(
                    IdempotencyKeyRow.team_id == team_id, IdempotencyKeyRow.key == key
                )
            )
        ).one()
        return IdempotencyRecord(body_hash=row.body_hash, incident_id=row.incident_id)

    async def complete(self, team_id: str, key: str, incident_id: int) -> None:
        await self._session.execute(
            update(IdempotencyKeyRow)
            .where(IdempotencyKeyRow.team_id == team_id, IdempotencyKeyRow.key == key)
            .values(incident_id=incident_id)
        )
